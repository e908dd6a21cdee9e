"""Hostile and broken submissions, graded in one batch by the instructors' grade command.

Each entry of grader_tests/hostile/ may score no more than its honest work earns; the honest control
submissions of the same batch keep their grades; the command finishes; every crash, time-out or tampering
gets a one-line reason; nothing secret (hidden tests, solution markers, the gradebook, another student's work,
the instructor's environment) reaches a student's feedback. Shadow modules shipped with a submission never run in
the grader's process (no marker file appears), a TCP and UDP listener on 127.0.0.1 receives nothing during the
whole batch, and the honest submissions graded right after a poisoner in its worker score as if graded alone.
"""
import re
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from coursekit.course.config import nbgrader_env
from coursekit.course.notebooks import HIDDEN_MARKERS, SOLUTION_MARKERS, reference_answers
from support.course import ASSIGNMENT, SOURCE, new_course, scores
from support.secrets import helper_files, hidden_test_lines
from catalogue.report import SUMMARY_LINES
from support.files import Listener, write_submission
from hostile import (ANOTHER_STUDENT_MARK, FIGURES, FOLLOWERS, HOSTILE, MARKERS_ENV, POISON_MARK, POISONERS,
                     SECRET_ENV, configure, control_submissions, planted_on_host)

pytestmark = pytest.mark.slow  # one batch of every hostile submission, graded by the grade command

PER_CELL_TIMEOUT = 6
TIME_LIMIT = 150
CONTROLS = {"control-reference": "all", "control-no-relu-mask": {"test_backward_hidden_layer", "test_training"},
            **FOLLOWERS}


@pytest.fixture(scope="module")
def batch(tmp_path_factory, source_nb, release_nb):
    """Every hostile entry and the controls, graded with `python -m coursekit grade`: (course, process), with the
    listener that ran during the batch, the markers folder and the files planted outside the sandboxes."""
    root = tmp_path_factory.mktemp("hostile")
    course = new_course(root / "course")
    markers = root / "markers"
    markers.mkdir()
    listener = Listener()
    configure(port=listener.port, markers=markers)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Execute.timeout = {PER_CELL_TIMEOUT}\n")
    reference = reference_answers(source_nb)
    for entry in HOSTILE:
        write_submission(course / "submitted" / entry.name / ASSIGNMENT, entry.build(release_nb, reference))
    for student, files in control_submissions(release_nb, reference).items():
        write_submission(course / "submitted" / student / ASSIGNMENT, files)
    env = {**nbgrader_env(), SECRET_ENV[0]: SECRET_ENV[1], MARKERS_ENV: str(markers)}
    process = subprocess.run([sys.executable, "-m", "coursekit", "--course", str(course), "grade", "--workers", "2",
                              "--timeout", str(TIME_LIMIT)], capture_output=True, text=True, env=env, timeout=1800)
    report = subprocess.run([sys.executable, "-m", "coursekit", "--course", str(course), "report", "--workers", "2"],
                            capture_output=True, text=True, env=env, timeout=900)
    time.sleep(1)  # what may still be on its way to the listener
    listener.close()
    planted = planted_on_host(course)
    for path in planted:  # never leave a poisoner's file on the machine
        path.unlink()
    assert report.returncode == 0, report.stdout[-2000:] + report.stderr[-2000:]
    return SimpleNamespace(course=course, process=process, listener=listener, markers=markers, planted=planted)


@pytest.fixture(scope="module")
def markers(batch):
    """The marker files that code of a submission wrote in the grader's processes (shadows, planted files)."""
    return sorted(p.name for p in batch.markers.iterdir())


@pytest.fixture(scope="module")
def batch_scores(batch):
    return scores(batch.course)


@pytest.fixture(scope="module")
def reasons(batch):
    return dict(re.findall(r"^  (\S+): (.+)$", batch.process.stdout, flags=re.M))


def secret_lines(source_nb):
    """The hidden-test lines to look for in feedback/<student>/ (which holds the helper files, handed out too)."""
    return hidden_test_lines(source_nb, helper_files(SOURCE))


def feedback_text(course, student):
    """Everything returned to the student: the files of feedback/<student>/, as text."""
    folder = course / "feedback" / student
    return "\n".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())


def test_the_grade_command_finishes_and_flags_submissions_needing_attention(batch):
    process = batch.process
    assert process.returncode == 1, process.stdout[-3000:] + process.stderr[-3000:]


@pytest.mark.parametrize("entry", HOSTILE, ids=[e.name for e in HOSTILE])
def test_hostile_submission_scores_no_more_than_its_honest_work(entry, batch_scores, max_points):
    got = batch_scores.get(entry.name)
    assert got is not None, f"{entry.name} ({entry.what}) has no grade"
    too_much = {cell: score for cell, score in got.items()
                if score is None or score > (max_points[cell] if cell in entry.earns else 0)}
    assert not too_much, f"{entry.name} ({entry.what}) scored {too_much}"


@pytest.mark.parametrize("entry", [e for e in HOSTILE if e.exact], ids=[e.name for e in HOSTILE if e.exact])
def test_hostile_submission_scores_exactly_its_honest_work(entry, batch_scores, max_points):
    expected = {cell: points if cell in entry.earns else 0 for cell, points in max_points.items()}
    assert batch_scores.get(entry.name) == expected, f"{entry.name} ({entry.what})"


@pytest.mark.parametrize("entry", [e for e in HOSTILE if e.reason], ids=[e.name for e in HOSTILE if e.reason])
def test_instructor_sees_a_one_line_reason(entry, reasons):
    assert entry.name in reasons, f"no reason for {entry.name}: {sorted(reasons)}"
    assert entry.reason in reasons[entry.name], reasons[entry.name]


@pytest.mark.parametrize("student", CONTROLS)
def test_honest_submissions_in_the_batch_keep_their_grades(student, batch_scores, max_points):
    losing = set() if CONTROLS[student] == "all" else CONTROLS[student]
    assert batch_scores[student] == {c: 0 if c in losing else p for c, p in max_points.items()}


def test_no_code_of_a_submission_runs_in_the_grader(markers):
    assert not markers, f"shadow modules or planted files ran in the grader's process: {markers}"


def test_no_network_connection_reaches_the_listener(batch):
    listener = batch.listener
    assert (listener.connections, listener.datagrams, len(listener.received)) == (0, 0, 0), listener.received[:2000]


def test_nothing_is_planted_for_the_next_student(batch):
    assert not batch.planted, f"files planted outside the sandbox (removed): {batch.planted}"
    others = [s for s in [e.name for e in HOSTILE] + list(CONTROLS) if s not in POISONERS]
    poisoned = [s for s in others if POISON_MARK in feedback_text(batch.course, s)]
    assert not poisoned, f"what a poisoner planted ran while these were graded: {poisoned}"


def test_no_secret_reaches_any_feedback(batch, source_nb):
    course = batch.course
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


def test_summary_line(batch, batch_scores, reasons, source_nb, max_points, markers, request):
    """The one line CI prints: tried, scored above honest, batches broken, secrets leaked; and the figures of the
    issue's line (conftest.pytest_terminal_summary joins them with the messy catalogue's)."""
    course, process = batch.course, batch.process
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
    connections = batch.listener.connections + batch.listener.datagrams
    request.config.stash.setdefault(FIGURES, {})["hostile"] = (above, connections, len(markers))
    print(line)
    assert above == 0 and broken == 0 and leaked == 0 and connections == 0 and not markers, line

