"""A JupyterHub course, end to end through nbgrader's exchange, with the student in a real browser.

The exchange is a temporary folder (on a hub, a folder every user's server shares). The instructor's course
releases the assignment with ``nbgrader release_assignment``; the student's JupyterLab (a plain ``jupyter lab``
with nbgrader's extensions, as a hub's single-user server runs it, in the student's own home folder) shows it in
nbgrader's Assignment List, where the student fetches it, solves ``relu`` in the page and submits. The instructor
collects, grades and reports with the kit, and releases the feedback; the student fetches it in the Assignment
List and reads their scores, with no hidden test code in it.

One operating-system user plays both roles here, so the student's nbgrader_config.py names the student
(``CourseDirectory.student_id``); on a hub, nbgrader takes the student's user name.
"""
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from coursekit.course.config import nbgrader_env
from coursekit.course.notebooks import nbgrader_meta, read, reference_answers
from coursekit.launchers.lab import LabCommand, jupyter_lab_argv
from support.course import ASSIGNMENT, NOTEBOOK, new_course, run_nbgrader
from support.secrets import hidden_test_lines, page_text
from browser import PAGE_SECONDS, RUN_SECONDS, JupyterServer, NotebookPage, expect, screenshot, skip_unless_browser

pytestmark = [pytest.mark.slow, pytest.mark.browser]

STUDENT = "alice"


@dataclass
class Hub:
    course: Path     # the instructor's course folder
    home: Path       # the student's home folder, the root of their JupyterLab
    server: JupyterServer


def kit(course, *args):
    """python -m coursekit ARGS in the instructor's course; fails the test with its output if it fails."""
    process = subprocess.run([sys.executable, "-m", "coursekit", "--course", str(course), *args],
                             capture_output=True, text=True, env=nbgrader_env(), timeout=900)
    # 1 means some submission needs attention (an untouched one would): the tests check the scores themselves
    assert process.returncode in (0, 1), f"coursekit {' '.join(args)} failed:\n{process.stdout[-2000:]}{process.stderr[-2000:]}"
    return process


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The exchange, the instructor's course (assignment released to the exchange) and the student's JupyterLab."""
    skip_unless_browser()
    root = tmp_path_factory.mktemp("hub")
    exchange = root / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # as on a hub: every student's server writes into its inbound folder
    course = new_course(root / "instructor" / "course")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\n")
    run_nbgrader(course, "release_assignment", ASSIGNMENT)
    home = root / STUDENT
    home.mkdir()
    (home / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.student_id = {STUDENT!r}\n")
    server = JupyterServer(LabCommand(jupyter_lab_argv(home), nbgrader_env(), home), root / "jupyter")
    try:
        yield Hub(course, home, server.wait_ready())
    finally:
        server.stop()


@pytest.fixture(scope="module")
def assignment_list(hub, chromium):
    """The student's JupyterLab with nbgrader's Assignment List open (Nbgrader > Assignment List)."""
    page = chromium.new_page()
    page.goto(hub.server.url("lab"))
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click(timeout=PAGE_SECONDS * 1000)
    page.get_by_role("menuitem", name="Assignment List").click()
    yield page
    screenshot(page, "exchange-assignment-list")
    page.close()


def assignment_row(page, listing):
    """The row of the assignment in one of the Assignment List's lists (released, fetched, submitted)."""
    return page.locator(f"#{listing}_assignments_list .list_item", has_text=ASSIGNMENT).first


def click_button(page, listing, label):
    """Click the assignment's button labelled label in listing."""
    assignment_row(page, listing).get_by_role("button", name=label, exact=True).click()


@pytest.fixture(scope="module")
def fetched(hub, assignment_list):
    """The student clicked Fetch: the release is in their home folder."""
    expect(assignment_row(assignment_list, "released"), "the Assignment List does not show the released "
           "assignment").to_be_visible(timeout=PAGE_SECONDS * 1000)
    click_button(assignment_list, "released", "Fetch")
    expect(assignment_row(assignment_list, "fetched"), "the fetched assignment is not listed as downloaded"
           ).to_be_visible(timeout=PAGE_SECONDS * 1000)
    return hub.home / ASSIGNMENT / NOTEBOOK


@pytest.fixture(scope="module")
def solved_relu(hub, fetched, chromium, release_nb, source_nb):
    """The student opened the fetched notebook, typed a correct relu, ran it and its test, and saved."""
    cell = {nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(release_nb.cells)}
    page = chromium.new_page()
    notebook = NotebookPage.open(page, hub.server, f"{ASSIGNMENT}/{NOTEBOOK}", len(release_nb.cells))
    notebook.run_all()
    notebook.wait_ran(cell["test_relu"])
    notebook.wait_no_cell_running()
    notebook.type_code(cell["relu"], reference_answers(source_nb)["relu"])
    notebook.run_cell_and_next(cell["relu"])
    notebook.save()
    screenshot(page, "exchange-solved-relu")
    page.close()
    return notebook


@pytest.fixture(scope="module")
def submitted(hub, assignment_list, solved_relu):
    """The student clicked Submit in the Assignment List."""
    click_button(assignment_list, "fetched", "Submit")
    expect(assignment_row(assignment_list, "submitted"), "the submission is not listed as submitted"
           ).to_be_visible(timeout=PAGE_SECONDS * 1000)
    return hub


@pytest.fixture(scope="module")
def graded(submitted):
    """The instructor collected, graded, reported and released feedback: (collect, grade, release_feedback)."""
    course = submitted.course
    collected = run_nbgrader(course, "collect", ASSIGNMENT)
    grade = kit(course, "grade", ASSIGNMENT)
    kit(course, "report", ASSIGNMENT)
    released = run_nbgrader(course, "release_feedback", ASSIGNMENT)
    return collected, grade, released


@pytest.fixture(scope="module")
def feedback(hub, assignment_list, graded):
    """The student reloaded the Assignment List and clicked Fetch Feedback: the feedback file they got."""
    assignment_list.reload()
    assignment_list.get_by_role("menuitem", name="Nbgrader", exact=True).click(timeout=PAGE_SECONDS * 1000)
    assignment_list.get_by_role("menuitem", name="Assignment List").click()
    click_button(assignment_list, "submitted", "Fetch Feedback")
    expect(assignment_row(assignment_list, "submitted"), "the Assignment List offers no feedback to view"
           ).to_contain_text("view feedback", timeout=RUN_SECONDS * 1000)
    files = sorted((hub.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert len(files) == 1, f"the student's feedback folder holds {files}, expected one {ASSIGNMENT}.html"
    return files[0]


def test_the_instructor_collects_the_students_submission(hub, graded):
    notebook = hub.course / "submitted" / STUDENT / ASSIGNMENT / NOTEBOOK
    assert notebook.exists(), f"nbgrader collect did not place {notebook}:\n{graded[0].stderr[-2000:]}"


def test_the_collected_notebook_holds_the_relu_typed_in_the_page(hub, graded, release_nb, source_nb):
    collected = read(hub.course / "submitted" / STUDENT / ASSIGNMENT / NOTEBOOK)
    relu = next(c for c in collected.cells if nbgrader_meta(c).get("grade_id") == "relu")
    assert relu.source == reference_answers(source_nb)["relu"]


def test_the_kit_grades_the_collected_submission_to_the_relu_points(hub, graded, max_points):
    from coursekit.course.gradebook import scores
    expected = {cell: (points if cell == "test_relu" else 0.0) for cell, points in max_points.items()}
    assert scores(hub.course, ASSIGNMENT)[STUDENT] == expected, graded[1].stdout[-2000:]


def test_the_student_fetches_feedback_with_their_score(feedback, chromium, hub, max_points):
    page = chromium.new_page()
    try:
        page.goto(hub.server.url(f"files/{feedback.relative_to(hub.home).as_posix()}"))
        relu_points = max_points["test_relu"]
        expect(page.locator("body"), "the feedback does not show the student's score").to_contain_text(
            re.compile(rf"Score:\s*{relu_points:g}(\.0)?\s*/\s*{sum(max_points.values()):g}"), timeout=PAGE_SECONDS * 1000)
        screenshot(page, "exchange-feedback")
    finally:
        page.close()


def test_the_fetched_feedback_holds_no_hidden_test_code(feedback, source_nb):
    text = page_text(feedback)
    leaked = [line for line in hidden_test_lines(source_nb) if line in text]
    assert not leaked and "HIDDEN TESTS" not in text, f"{feedback} shows hidden test code: {leaked[:3]}"
