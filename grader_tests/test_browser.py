"""A student's first session in JupyterLab, in a real browser (Debian's Chromium, driven by Playwright).

The server is the ``make lab`` one (coursekit.lab.student_lab) in a temporary copy of the release; each test
opens its own fresh copy of the notebook. Screenshots go to grader_tests/artifacts/ (ignored by git): the
trained notebook with its plots, and the last view of every test, for a person to look at.
"""
import importlib.util
import re
from pathlib import Path

import pytest

from coursekit.course.notebooks import nbgrader_meta, read, reference_answers
from coursekit.course.notebooks import test_ids as graded_cells
from coursekit.launchers.lab import formgrader_lab, student_lab
from support.course import ASSIGNMENT, NOTEBOOK, RELEASE, REPO, graded_course, new_course
from browser import (ERROR_MIME, RUN_SECONDS, JupyterServer, NotebookPage, artifact, copy_release, expect,
                     screenshot, skip_unless_browser)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WRONG_RELU = "def relu(z):\n    return np.abs(z)"


@pytest.fixture(scope="module")
def cell(release_nb):
    """grade_id -> index of that cell in the notebook."""
    return {nbgrader_meta(c)["grade_id"]: i for i, c in enumerate(release_nb.cells) if "grade_id" in nbgrader_meta(c)}


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """The student's JupyterLab (as make lab starts it) in a temporary student-work/ with the release copied in."""
    skip_unless_browser()
    folder = tmp_path_factory.mktemp("lab")
    server = JupyterServer(student_lab(REPO, ASSIGNMENT, folder / "student-work"), folder / "jupyter")
    try:
        yield server.wait_ready()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def open_notebook(lab_server, chromium, release_nb):
    """open_notebook(path, name) -> NotebookPage; at the end each page's last view is saved as <name>.png."""
    pages = {}

    def open_(path, name):
        pages[name] = chromium.new_page()
        return NotebookPage.open(pages[name], lab_server, path, len(release_nb.cells))

    yield open_
    for name, page in pages.items():
        try:
            screenshot(page, f"last-view-{name}")
        finally:
            page.close()


def fresh_notebook(lab_server, open_notebook, name):
    """A fresh copy of the release in the server's folder, opened in JupyterLab."""
    return open_notebook(copy_release(RELEASE, lab_server.info["root_dir"], name), name)


def run_all_until_first_failure(notebook, cell):
    """Run > Run All Cells on an untouched notebook: it stops at the first test, test_relu."""
    notebook.run_all()
    notebook.wait_ran(cell["test_relu"])
    notebook.wait_no_cell_running()


def check_message(wrong_code):
    """The AssertionError message the release's visible check_relu gives for wrong_code."""
    spec = importlib.util.spec_from_file_location("released_checks", RELEASE / "backprop_checks.py")
    checks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checks)
    namespace = {"np": checks.np}
    exec(wrong_code, namespace)
    with pytest.raises(AssertionError) as failure:
        checks.check_relu(namespace["relu"])
    return str(failure.value)


# ---------------------------------------------------------------- the untouched notebook

@pytest.fixture(scope="module")
def start_page(open_notebook):
    """The page at the address Jupyter prints: the notebook make lab copied from the release, untouched."""
    return open_notebook(None, "untouched")


def test_start_page_is_the_students_notebook(start_page):
    expect(start_page.page, "the start page is not the student's notebook").to_have_url(
        re.compile(re.escape(f"/lab/tree/{ASSIGNMENT}/{NOTEBOOK}")))


def test_student_lab_offers_validate_but_not_the_instructors_tools(start_page):
    page = start_page.page
    expect(page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True),
           "the notebook's toolbar has no Validate button").to_be_visible()
    expect(page.get_by_role("menuitem", name="Nbgrader", exact=True),
           "the student's menu bar offers nbgrader's instructor menu (formgrader)").to_have_count(0)
    expect(page.get_by_text("Create Assignment", exact=True),
           "the student's JupyterLab offers nbgrader's Create Assignment panel").to_have_count(0)


def test_run_all_shows_the_first_stubs_error_in_its_visible_test(start_page, cell):
    notebook = start_page
    run_all_until_first_failure(notebook, cell)
    expect(notebook.output(cell["data"]), "Run All did not run the data cell").to_contain_text("train:")
    failure = notebook.output(cell["test_relu"])
    expect(failure, "test_relu's output is not an error").to_have_attribute("data-mime-type", ERROR_MIME)
    expect(failure, "test_relu does not show NotImplementedError").to_contain_text("NotImplementedError")
    expect(failure, "the traceback does not lead through the visible test").to_contain_text("check_relu(relu)")
    expect(failure, "the traceback does not end at relu's stub").to_contain_text("raise NotImplementedError()")
    notebook.show_in_middle(cell["test_relu"])  # for the last-view screenshot


def test_visible_test_shows_its_message_for_a_wrong_relu(lab_server, open_notebook, cell):
    notebook = fresh_notebook(lab_server, open_notebook, "wrong-relu")
    run_all_until_first_failure(notebook, cell)
    notebook.type_code(cell["relu"], WRONG_RELU)
    notebook.run_cell_and_next(cell["relu"])
    failure = notebook.output(cell["test_relu"])
    expect(failure, "test_relu's output is not an error").to_have_attribute("data-mime-type", ERROR_MIME)
    expect(failure, "test_relu does not show check_relu's message").to_contain_text(
        f"AssertionError: {check_message(WRONG_RELU)}")


# ---------------------------------------------------------------- a correct relu, typed and saved

@pytest.fixture(scope="module")
def typed_relu(lab_server, open_notebook, cell, source_nb):
    """Type the reference relu into a fresh notebook, run it and its test, save: (notebook, path, typed code)."""
    notebook = fresh_notebook(lab_server, open_notebook, "typed-relu")
    run_all_until_first_failure(notebook, cell)
    code = reference_answers(source_nb)["relu"]
    notebook.type_code(cell["relu"], code)
    notebook.run_cell_and_next(cell["relu"])
    notebook.save()
    return notebook, Path(lab_server.info["root_dir"]) / "typed-relu" / NOTEBOOK, code


def test_typed_relu_passes_its_visible_test(typed_relu, cell, release_nb):
    notebook, _, _ = typed_relu
    passed = re.search(r'print\("([^"]+)"\)', release_nb.cells[cell["test_relu"]].source).group(1)
    output = notebook.output(cell["test_relu"])
    expect(output, "test_relu still fails after typing a correct relu").not_to_have_attribute(
        "data-mime-type", ERROR_MIME)
    expect(output, f"test_relu did not print {passed!r}").to_contain_text(passed)


def test_saved_notebook_holds_the_typed_relu(typed_relu, cell):
    _, path, code = typed_relu
    saved = read(path).cells[cell["relu"]].source
    assert saved == code, f"{path}: the relu cell holds\n{saved}\ninstead of the typed\n{code}"


def test_saved_notebook_keeps_the_nbgrader_metadata_of_every_cell(typed_relu, release_nb):
    _, path, _ = typed_relu
    saved = read(path)
    assert len(saved.cells) == len(release_nb.cells), (
        f"{path} has {len(saved.cells)} cells, not the release's {len(release_nb.cells)}")
    for index, (got, released) in enumerate(zip(saved.cells, release_nb.cells)):
        assert nbgrader_meta(got) == nbgrader_meta(released), (
            f"{path}, cell {index}: nbgrader metadata {nbgrader_meta(got)} instead of {nbgrader_meta(released)}")


def test_saved_notebook_autogrades_to_the_relu_points(typed_relu, tmp_path, max_points):
    _, path, _ = typed_relu
    _, scores = graded_course(tmp_path / "course", {"student": read(path)})
    expected = {test: (points if test == "test_relu" else 0) for test, points in max_points.items()}
    assert scores["student"] == expected, f"nbgrader autograde of {path} gave {scores['student']}, expected {expected}"


# ---------------------------------------------------------------- the whole solution, pasted in

@pytest.fixture(scope="module")
def solved(lab_server, open_notebook, cell, source_nb, release_nb):
    """A fresh notebook with every reference answer pasted in, after Kernel > Restart Kernel and Run All Cells."""
    notebook = fresh_notebook(lab_server, open_notebook, "solved")
    for grade_id, code in reference_answers(source_nb).items():
        notebook.paste_code(cell[grade_id], code)
    notebook.restart_and_run_all()
    notebook.wait_ran(max(i for i, c in enumerate(release_nb.cells) if c.cell_type == "code"))  # the last
    notebook.wait_no_cell_running()
    return notebook


def test_solved_notebook_passes_every_visible_test_in_the_page(solved, cell, release_nb):
    for test in graded_cells(release_nb):
        expect(solved.prompt(cell[test]), f"{test} did not run").to_have_text(re.compile(r"\[\d+\]:"))
        expect(solved.errors(cell[test]), f"{test} shows an error with the reference solution").to_have_count(0)


def test_solved_notebook_renders_the_loss_curve_and_decision_boundary(solved, cell):
    figure = solved.cells.nth(cell["plots"]).locator(".jp-RenderedImage img")
    expect(figure, "the plots cell shows no image").to_have_count(1)
    width, height = figure.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert width > 1.5 * height > 0, f"the plots cell's image is {width}x{height}: not two plots side by side"
    solved.show_in_middle(cell["plots"])
    figure.screenshot(path=artifact("trained-plots"))
    screenshot(solved.page, "trained-notebook")


def test_validate_button_reports_success(solved):
    solved.page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).click()
    dialog = solved.page.locator(".jp-Dialog")
    expect(dialog, "Validate gave no success").to_contain_text("Success! Your notebook passes all the tests.",
                                                               timeout=RUN_SECONDS * 1000)
    screenshot(solved.page, "validated")
    solved.page.keyboard.press("Escape")


# ---------------------------------------------------------------- the instructor's view

def test_formgrader_lists_the_assignment(tmp_path, chromium):
    course = new_course(tmp_path / "course")
    server = JupyterServer(formgrader_lab(course), tmp_path / "jupyter")
    page = chromium.new_page()
    try:
        server.wait_ready()
        page.goto(server.url(""))
        expect(page, "the server's start page is not formgrader").to_have_url(re.compile(r"/formgrader"))
        expect(page.get_by_role("link", name=ASSIGNMENT, exact=True),
               f"formgrader does not list the assignment {ASSIGNMENT}").to_be_visible()
        screenshot(page, "formgrader")
    finally:
        page.close()
        server.stop()
