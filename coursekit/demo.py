"""The main job: generate the release, autograde a few bundled example submissions, print the grade table."""
from pathlib import Path

from . import ASSIGNMENT, NOTEBOOK
from .course import generate_assignment, run_nbgrader, scores, submit
from .notebooks import build_submission, read, reference_answers, test_ids

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
    """Generate the release, autograde the example submissions into autograded/, return the grade table."""
    course = Path(course)
    print(f"generating release/{ASSIGNMENT} from source/{ASSIGNMENT} ...", flush=True)
    generate_assignment(course)
    examples = example_submissions(course)
    for student, nb in examples.items():
        submit(course, student, nb)
    print(f"autograding {len(examples)} example submissions into autograded/ ...", flush=True)
    for student in examples:
        run_nbgrader(course, "autograde", ASSIGNMENT, "--student", student, "--force")
    max_points = test_ids(read(course / "source" / ASSIGNMENT / NOTEBOOK))
    course_scores = {s: v for s, v in scores(course).items() if s in examples}
    return format_table(course_scores, max_points)
