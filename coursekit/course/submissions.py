"""The submissions of an assignment in submitted/<student>/<assignment>/: finding them, fingerprinting them.

A notebook under another name. nbgrader reads ``submitted/<student>/<assignment>/<notebook>.ipynb`` and nothing
else, so a student who downloaded the notebook twice and submitted ``backprop (1).ipynb`` got 0. When the
expected file is missing but the folder holds other notebooks, ``find_submissions`` picks the one to grade
(``stand_in``): the notebook whose cells carry the most of this notebook's grade_ids (ties: the newest file);
a notebook that carries none of them is taken only when it is the folder's only one. The student's files in
``submitted/`` are never modified: the grade command gives nbgrader a copy of the folder in which the chosen file
has the expected name (grading/tasks.py, ``staged``), and the submission's reason says "graded backprop (1).ipynb
as backprop.ipynb". A resubmission that does bring the expected name is graded as it is (its other notebooks
are ignored, as nbgrader ignores them). Plain ``nbgrader autograde`` still needs the expected name.
"""
import glob
import hashlib
import json
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
    renamed: dict = field(default_factory=dict)  # notebook name -> the file graded as <name>.ipynb


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


def find_submissions(course, assignment, notebooks, grade_ids=None):
    """The submissions of the assignment in submitted/, by student id, with the notebooks they lack.

    grade_ids: notebook name -> its grade_ids, or a function of the name that returns them; when given, a
    missing notebook whose stand-in the folder holds is listed in ``renamed``, not in ``missing``.
    """
    result = {}
    for student, folder in student_folders(course_directory(course), "submitted", assignment).items():
        missing = [name for name in notebooks if not (folder / f"{name}.ipynb").exists()]
        renamed = {}
        if missing and grade_ids is not None:
            expected = {f"{name}.ipynb" for name in notebooks}
            for name in missing:
                ids = grade_ids(name) if callable(grade_ids) else grade_ids.get(name, ())
                found = stand_in(folder, ids, exclude=expected | set(renamed.values()))
                if found:
                    renamed[name] = found
        missing = [f"{name}.ipynb" for name in missing if name not in renamed]
        result[student] = Submission(student, folder, files_digest(folder_files(folder), folder), missing, renamed)
    return result


def notebook_grade_ids(path):
    """The grade_ids the cells of the notebook file carry (an empty set when it is not a readable notebook)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8", errors="replace"))
        cells = data.get("cells") or [c for w in data.get("worksheets", []) for c in w.get("cells", [])]
        return {c["metadata"]["nbgrader"]["grade_id"] for c in cells
                if isinstance(c, dict) and isinstance(c.get("metadata", {}).get("nbgrader"), dict)
                and isinstance(c["metadata"]["nbgrader"].get("grade_id"), str)}
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return set()


def stand_in(folder, grade_ids, exclude=()):
    """The file name of the notebook in folder to grade in place of a missing one, or None.

    The .ipynb file (top level, names in exclude left out) whose cells carry the most of grade_ids, the newest
    of those on a tie; one that carries none is taken only when it is the only candidate.
    """
    candidates = [p for p in Path(folder).glob("*.ipynb") if p.is_file() and p.name not in exclude]
    if not candidates:
        return None
    wanted = set(grade_ids)
    scored = [(len(notebook_grade_ids(p) & wanted), p.stat().st_mtime, p.name) for p in candidates]
    best = max(scored)
    if best[0] == 0 and len(candidates) > 1:
        return None
    return best[2]


def submit(course, assignment, student, nb, notebook):
    """Place the notebook nb as the student's submission of notebook (a name without .ipynb)."""
    write(nb, Path(course) / "submitted" / student / assignment / f"{notebook}.ipynb")
