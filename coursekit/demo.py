"""The main job: generate the release, grade a few bundled example submissions in parallel, print the grades.

The examples are graded with the kit's grade command (grading.py: parallel workers, progress) and reported
with its report command (report.py: grades.csv, summary, charts, feedback), as an instructor grades a class.
"""
from pathlib import Path

from . import ASSIGNMENT, NOTEBOOK
from .course import generate_assignment, scores, submit
from .grading import describe, grade_class
from .notebooks import build_submission, read, reference_answers, test_ids
from .report import write_report

# A backward pass that forgets the ReLU mask: the most common bug of this exercise.
BACKWARD_WITHOUT_RELU_MASK = '''
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = grad_logits @ params["W2"].T
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
'''


def example_submissions(course):
    """student id -> notebook: the reference solution, the untouched release, and one with a bug."""
    course = Path(course)
    release = read(course / "release" / ASSIGNMENT / NOTEBOOK)
    reference = reference_answers(read(course / "source" / ASSIGNMENT / NOTEBOOK))
    return {
        "example-reference": build_submission(release, reference),
        "example-untouched": release,
        "example-no-relu-mask": build_submission(release, {**reference, "backward": BACKWARD_WITHOUT_RELU_MASK}),
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


def run_demo(course):
    """Generate the release, grade the examples into autograded/ and feedback/, print grades and report.

    Returns the exit status: 1 when an example needs attention, else 0.
    """
    course = Path(course)
    print(f"generating release/{ASSIGNMENT} from source/{ASSIGNMENT} ...", flush=True)
    generate_assignment(course)
    examples = example_submissions(course)
    for student, nb in examples.items():
        submit(course, student, nb)
    print(f"grading {len(examples)} example submissions in parallel (python -m coursekit grade) ...", flush=True)
    run = grade_class(course, ASSIGNMENT, students=list(examples))
    print(describe(run))
    print("writing grades.csv, reports/ and feedback/ (python -m coursekit report) ...", flush=True)
    paths, summary, problems = write_report(course, ASSIGNMENT)
    max_points = test_ids(read(course / "source" / ASSIGNMENT / NOTEBOOK))
    course_scores = {s: v for s, v in scores(course).items() if s in examples}
    print("\n" + format_table(course_scores, max_points) + "\n")
    print(summary)
    print(f"report: {', '.join(str(p.relative_to(course.resolve())) for p in paths)}; feedback in feedback/")
    return 1 if (set(run.attention) | set(problems)) & set(examples) else 0
