"""The submissions of an assignment in submitted/<student>/<assignment>/: finding them, fingerprinting them."""
import glob
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import course_directory
from .notebooks import write


@dataclass
class Submission:
    """A student's folder in submitted/: what to grade and the fingerprint of its files."""
    student: str
    folder: Path
    fingerprint: str
    missing: list = field(default_factory=list)


def files_digest(paths, root):
    """sha256 over the relative names and the contents of the files."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def folder_files(folder):
    """Every file below folder, checkpoints left out."""
    return [p for p in Path(folder).rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts]


def student_folders(coursedir, kind, assignment):
    """student id -> folder of the assignment under the course's submitted/ or autograded/ (kind), sorted."""
    root = {"submitted": coursedir.submitted_directory, "autograded": coursedir.autograded_directory}[kind]
    pattern = re.compile(coursedir.format_path(root, "(?P<student>[^/]+)", re.escape(assignment), escape=True) + "$")
    found = {}
    for path in sorted(glob.glob(coursedir.format_path(root, "*", assignment))):
        match = pattern.match(path)
        if match and os.path.isdir(path):
            found[match["student"]] = Path(path)
    return found


def find_submissions(course, assignment, notebooks):
    """The submissions of the assignment in submitted/, by student id, with the notebooks they lack."""
    result = {}
    for student, folder in student_folders(course_directory(course), "submitted", assignment).items():
        missing = [f"{name}.ipynb" for name in notebooks if not (folder / f"{name}.ipynb").exists()]
        result[student] = Submission(student, folder, files_digest(folder_files(folder), folder), missing)
    return result


def submit(course, assignment, student, nb, notebook):
    """Place the notebook nb as the student's submission of notebook (a name without .ipynb)."""
    write(nb, Path(course) / "submitted" / student / assignment / f"{notebook}.ipynb")
