"""The main job: generate the release, grade a few bundled example submissions in parallel, print the grades.

The examples are graded with the kit's grade command (grading/: parallel workers, progress) and reported
with its report command (report/: grades.csv, summary, charts, feedback), as an instructor grades a class.
"""
from pathlib import Path

from ..course.assignments import generate_assignment, notebook_path
from ..course.gradebook import scores
from ..course.notebooks import build_submission, read, reference_answers, solution_ids, test_ids
from ..course.submissions import submit
from ..grading import describe, grade_class
from ..report import write_report


def example_submissions(course, assignment):
    """student id -> notebook: the reference solution, the untouched release, and one that answered every
    solution cell but the last (the reference's answers elsewhere)."""
    release = read(notebook_path(course, assignment, "release"))
    reference = reference_answers(read(notebook_path(course, assignment)))
    last = solution_ids(release)[-1]
    return {
        "example-reference": build_submission(release, reference),
        "example-untouched": release,
        f"example-no-{last}": build_submission(release, {k: v for k, v in reference.items() if k != last}),
    }


def format_table(course_scores, max_points):
    """A text table: one row per student, one column per test cell, and the total."""
    cells = list(max_points)
    width = max(len(student) for student in course_scores)
    header = f"{'student':<{width}}  " + "  ".join(f"{i + 1:>4}" for i in range(len(cells))) + "   total"
    lines = [header]
    for student, cell_scores in sorted(course_scores.items()):
        row = "  ".join(f"{cell_scores.get(cell, 0):>4g}" for cell in cells)
        total = sum(cell_scores.get(cell, 0) for cell in cells)
        lines.append(f"{student:<{width}}  {row}   {total:>2g}/{sum(max_points.values()):g}")
    legend = ", ".join(f"{i + 1} {cell} ({points:g})" for i, (cell, points) in enumerate(max_points.items()))
    return "\n".join(lines + ["", "cells (points): " + legend])


def run_demo(course, assignment):
    """Generate the release, grade the examples into autograded/ and feedback/, print grades and report.

    Returns the exit status: 1 when an example needs attention, else 0.
    """
    course = Path(course)
    print(f"generating release/{assignment} from source/{assignment} ...", flush=True)
    generate_assignment(course, assignment)
    examples = example_submissions(course, assignment)
    notebook = notebook_path(course, assignment).stem
    for student, nb in examples.items():
        submit(course, assignment, student, nb, notebook)
    print(f"grading {len(examples)} example submissions in parallel (python -m coursekit grade) ...", flush=True)
    run = grade_class(course, assignment, students=list(examples))
    print(describe(run))
    print("writing grades.csv, reports/ and feedback/ (python -m coursekit report) ...", flush=True)
    paths, summary, problems = write_report(course, assignment)
    max_points = test_ids(read(notebook_path(course, assignment)))
    course_scores = {s: v for s, v in scores(course, assignment).items() if s in examples}
    print("\n" + format_table(course_scores, max_points) + "\n")
    print(summary)
    print(f"report: {', '.join(str(p.relative_to(course.resolve())) for p in paths)}; feedback in feedback/")
    return 1 if (set(run.attention) | set(problems)) & set(examples) else 0
