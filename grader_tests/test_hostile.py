"""Hostile and broken submissions, graded in one batch by the instructors' grade command.

Each entry of grader_tests/hostile/ may score no more than its honest work earns; the honest control
submissions of the same batch keep their grades; the command finishes; every crash, time-out or tampering
gets a one-line reason; nothing secret (hidden tests, solution markers, the gradebook, another student's work,
the instructor's environment) reaches a student's feedback.
"""
import re
import subprocess
import sys

import pytest

from coursekit.course.config import nbgrader_env
from coursekit.course.notebooks import HIDDEN_MARKERS, SOLUTION_MARKERS, reference_answers
from support.course import ASSIGNMENT, SOURCE, new_course, scores
from support.secrets import helper_files, hidden_test_lines
from catalogue.report import SUMMARY_LINES
from hostile import ANOTHER_STUDENT_MARK, HOSTILE, SECRET_ENV, control_submissions, write_submission

pytestmark = pytest.mark.slow  # one batch of every hostile submission, graded by the grade command

PER_CELL_TIMEOUT = 6
TIME_LIMIT = 150
CONTROLS = {"control-reference": "all", "control-no-relu-mask": {"test_backward_hidden_layer", "test_training"}}


@pytest.fixture(scope="module")
def batch(tmp_path_factory, source_nb, release_nb):
    """Every hostile entry and the controls, graded with `python -m coursekit grade`: (course, process)."""
    course = new_course(tmp_path_factory.mktemp("hostile") / "course")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Execute.timeout = {PER_CELL_TIMEOUT}\n")
    reference = reference_answers(source_nb)
    for entry in HOSTILE:
        write_submission(course / "submitted" / entry.name / ASSIGNMENT, entry.build(release_nb, reference))
    for student, files in control_submissions(release_nb, reference).items():
        write_submission(course / "submitted" / student / ASSIGNMENT, files)
    env = {**nbgrader_env(), SECRET_ENV[0]: SECRET_ENV[1]}
    process = subprocess.run([sys.executable, "-m", "coursekit", "--course", str(course), "grade", "--workers", "2",
                              "--timeout", str(TIME_LIMIT)], capture_output=True, text=True, env=env, timeout=1800)
    report = subprocess.run([sys.executable, "-m", "coursekit", "--course", str(course), "report", "--workers", "2"],
                            capture_output=True, text=True, env=env, timeout=900)
    assert report.returncode == 0, report.stdout[-2000:] + report.stderr[-2000:]
    return course, process


@pytest.fixture(scope="module")
def batch_scores(batch):
    return scores(batch[0])


@pytest.fixture(scope="module")
def reasons(batch):
    return dict(re.findall(r"^  (\S+): (.+)$", batch[1].stdout, flags=re.M))


def secret_lines(source_nb):
    """The hidden-test lines to look for in feedback/<student>/ (which holds the helper files, handed out too)."""
    return hidden_test_lines(source_nb, helper_files(SOURCE))


def feedback_text(course, student):
    """Everything returned to the student: the files of feedback/<student>/, as text."""
    folder = course / "feedback" / student
    return "\n".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())


def test_the_grade_command_finishes_and_flags_submissions_needing_attention(batch):
    _, process = batch
    assert process.returncode == 1, process.stdout[-3000:] + process.stderr[-3000:]


@pytest.mark.parametrize("entry", HOSTILE, ids=[e.name for e in HOSTILE])
def test_hostile_submission_scores_no_more_than_its_honest_work(entry, batch_scores, max_points):
    got = batch_scores.get(entry.name)
    assert got is not None, f"{entry.name} ({entry.what}) has no grade"
    too_much = {cell: score for cell, score in got.items()
                if score is None or score > (max_points[cell] if cell in entry.earns else 0)}
    assert not too_much, f"{entry.name} ({entry.what}) scored {too_much}"


@pytest.mark.parametrize("entry", [e for e in HOSTILE if e.reason], ids=[e.name for e in HOSTILE if e.reason])
def test_instructor_sees_a_one_line_reason(entry, reasons):
    assert entry.name in reasons, f"no reason for {entry.name}: {sorted(reasons)}"
    assert entry.reason in reasons[entry.name], reasons[entry.name]


@pytest.mark.parametrize("student", CONTROLS)
def test_honest_submissions_in_the_batch_keep_their_grades(student, batch_scores, max_points):
    losing = set() if CONTROLS[student] == "all" else CONTROLS[student]
    assert batch_scores[student] == {c: 0 if c in losing else p for c, p in max_points.items()}


def test_no_secret_reaches_any_feedback(batch, source_nb):
    course, _ = batch
    secrets = secret_lines(source_nb) + [SECRET_ENV[1], "SQLite format 3", *SOLUTION_MARKERS, *HIDDEN_MARKERS]
    assert len(secrets) > 100, f"only {len(secrets)} secrets to look for: the source should have hidden tests"
    students = [e.name for e in HOSTILE] + list(CONTROLS)
    assert "Hidden tests ran in this cell" in feedback_text(course, "control-reference"), "no feedback written"
    leaks = {}
    for student in students:
        text = feedback_text(course, student)
        found = [s for s in secrets if s in text]
        if student != "control-reference" and ANOTHER_STUDENT_MARK in text:
            found.append("another student's work")
        if found:
            leaks[student] = found[:3]
    assert not leaks, f"secrets in feedback: {leaks}"


def test_summary_line(batch, batch_scores, reasons, source_nb, max_points, request):
    """The one line CI prints: tried, scored above honest, batches broken, secrets leaked."""
    course, process = batch
    above = sum(any(s is None or s > (max_points[c] if c in e.earns else 0) for c, s in
                    batch_scores.get(e.name, {c: None for c in max_points}).items()) for e in HOSTILE)
    secrets = secret_lines(source_nb) + [SECRET_ENV[1]]
    leaked = sum(any(s in feedback_text(course, e.name) for s in secrets) for e in HOSTILE)
    broken = int(process.returncode not in (0, 1)) + sum(
        batch_scores.get(s) != {c: 0 if c in ((set() if w == "all" else w)) else p for c, p in max_points.items()}
        for s, w in CONTROLS.items())
    line = (f"hostile submissions: {len(HOSTILE)} tried · {above} scored above honest · {broken} batches broken · "
            f"{leaked} secrets leaked")
    request.config.stash.setdefault(SUMMARY_LINES, []).append(line)
    print(line)
    assert above == 0 and broken == 0 and leaked == 0, line

