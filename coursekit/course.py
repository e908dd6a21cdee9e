"""A course folder: run nbgrader's own apps in it and read its gradebook."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

from . import ASSIGNMENT, NOTEBOOK, KitError

REPO = Path(__file__).resolve().parent.parent


def nbgrader_env():
    """The environment for nbgrader subprocesses: this interpreter's bin first (nbgrader calls alembic)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run_nbgrader(course, *args, check=True):
    """Run ``nbgrader ARGS`` in the course folder; returns the CompletedProcess (output captured).

    With check, a non-zero exit raises KitError with the last error line nbgrader printed.
    """
    process = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=nbgrader_env(),
                             capture_output=True, text=True)
    if check and process.returncode != 0:
        errors = [line for line in process.stderr.splitlines() if "ERROR" in line or "Error" in line]
        raise KitError(f"nbgrader {' '.join(args)} failed in {course}: "
                       f"{errors[-1].strip() if errors else process.stderr.strip()[-300:]}")
    return process


def load_config(course):
    """The course's nbgrader_config.py as a traitlets Config, with the course folder as root."""
    config_file = Path(course) / "nbgrader_config.py"
    if not config_file.exists():
        raise KitError(f"{course} has no nbgrader_config.py: run this in the course folder or pass --course")
    config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    config.CourseDirectory.root = str(Path(course).resolve())
    return config


def db_url(course):
    """The gradebook URL of the course (nbgrader's default: SQLite in gradebook.db of the course folder)."""
    return CourseDirectory(config=load_config(course)).db_url


def scores(course, assignment=ASSIGNMENT):
    """student -> {test cell grade_id: score} for every autograded submission in the course's gradebook."""
    result = {}
    with Gradebook(db_url(course)) as gb:
        for submission in gb.assignment_submissions(assignment):
            cells = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type == "code":
                        cells[grade.name] = grade.score
            result[submission.student.id] = cells
    return result


def generate_assignment(course, assignment=ASSIGNMENT):
    """``nbgrader generate_assignment``: write release/<assignment> from source/ and record it in the gradebook."""
    if not (Path(course) / "source" / assignment).is_dir():
        raise KitError(f"{course} has no source/{assignment}: run this in the course folder or pass --course")
    run_nbgrader(course, "generate_assignment", assignment, "--force")


def new_course(folder, repo=REPO):
    """A fresh course folder with the repo's source/ and nbgrader_config.py, and the release generated."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(repo / "source", folder / "source")
    shutil.copy(repo / "nbgrader_config.py", folder / "nbgrader_config.py")
    generate_assignment(folder)
    return folder


def submit(course, student, nb):
    """Place the notebook nb as student's submission in the course folder."""
    from .notebooks import write
    write(nb, Path(course) / "submitted" / student / ASSIGNMENT / NOTEBOOK)
