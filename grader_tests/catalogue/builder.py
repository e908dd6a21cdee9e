"""Turn catalogue entries into submitted notebooks and grade them with nbgrader's own ``autograde``."""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from coursekit.course.notebooks import build_submission, nbgrader_meta, read
from support.course import ASSIGNMENT, NOTEBOOK, new_course, run_nbgrader, scores, submit


def submission(entry, release_nb, reference):
    """The release notebook with the entry's code in its solution cells and the reference code in the others.

    reference: grade_id -> code of the reference solution (coursekit.notebooks.reference_answers).
    """
    return build_submission(release_nb, {**reference, **entry.code})


@dataclass(frozen=True)
class Graded:
    """How nbgrader graded one entry: score of every test cell, and the error each failing test cell printed."""
    scores: dict
    errors: dict


def error_messages(nb):
    """grade_id -> "Name: message" of the error each test cell of an executed notebook raised."""
    messages = {}
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade") and cell.cell_type == "code":
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if errors:
                messages[nbgrader_meta(cell)["grade_id"]] = f"{errors[0].ename}: {errors[0].evalue}"
    return messages


def grade_course(folder, entries, release_nb, reference):
    """Autograde the entries in a new course at folder, one student per entry; return name -> Graded."""
    course = new_course(folder)
    for entry in entries:
        submit(course, entry.name, submission(entry, release_nb, reference))
    run_nbgrader(course, "autograde", ASSIGNMENT)
    course_scores = scores(course)
    return {entry.name: Graded(course_scores[entry.name],
                               error_messages(read(course / "autograded" / entry.name / ASSIGNMENT / NOTEBOOK)))
            for entry in entries}


def grade(entries, folder, release_nb, reference, workers=2):
    """Grade every entry with nbgrader's autograde, split over `workers` courses graded at the same time.

    Each course is a fresh folder under folder (course-1, course-2, ...) made from the repo's source/; the
    entries are dealt out in turn so that the courses take about as long. Returns name -> Graded.
    """
    entries = list(entries)
    shares = [entries[i::workers] for i in range(workers)]
    shares = [share for share in shares if share]
    with ThreadPoolExecutor(len(shares)) as pool:
        results = pool.map(lambda i: grade_course(Path(folder) / f"course-{i + 1}", shares[i], release_nb, reference),
                           range(len(shares)))
        return {name: graded for result in results for name, graded in result.items()}
