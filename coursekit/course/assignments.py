"""The assignments of a course folder: which there are, their notebooks, generating their release."""
import shutil
from pathlib import Path

from ..errors import KitError
from .config import REPO, run_nbgrader


def assignments(course):
    """The assignments of the course: the folders of source/ that hold a notebook, sorted."""
    source = Path(course) / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) \
        if source.is_dir() else []


def notebooks(course, assignment, folder="source"):
    """The notebook names (without .ipynb) of the assignment in source/ (or release/), sorted."""
    path = Path(course) / folder / assignment
    names = sorted(p.stem for p in path.glob("*.ipynb"))
    if not names and folder == "release":
        raise KitError(f"{path} holds no notebook: run 'make release' (python -m coursekit release {assignment}) "
                       "in the course folder first")
    if not names:
        raise KitError(f"{path} holds no notebook: check the assignment name "
                       f"({', '.join(assignments(course)) or 'none'} in source/)")
    return names


def notebook_path(course, assignment, folder="source"):
    """The path of the assignment's one notebook in source/ (or release/); KitError if it has several."""
    names = notebooks(course, assignment, folder)
    if len(names) > 1:
        raise KitError(f"{assignment} has several notebooks ({', '.join(names)}): this command takes one")
    return Path(course) / folder / assignment / f"{names[0]}.ipynb"


def generate_assignment(course, assignment):
    """``nbgrader generate_assignment``: write release/<assignment> from source/ and record it in the gradebook."""
    if not (Path(course) / "source" / assignment).is_dir():
        raise KitError(f"{course} has no source/{assignment}: check the assignment name "
                       f"({', '.join(assignments(course)) or 'none'} in source/) or pass --course")
    run_nbgrader(course, "generate_assignment", assignment, "--force")


def new_course(folder, repo=REPO, generate=True):
    """A fresh course folder with the repo's source/ and nbgrader_config.py, and every release generated."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(repo / "source", folder / "source")
    shutil.copy(repo / "nbgrader_config.py", folder / "nbgrader_config.py")
    if generate:
        for assignment in assignments(folder):
            generate_assignment(folder, assignment)
    return folder
