"""The tests' one definition of a hidden-test line (grader_tests/support/secrets.py) is what the feedback filter
(coursekit/preprocessors/hide_hidden_tests.py) hides, and the tests' cell lists are the notebook's."""
import nbformat

from coursekit.course.notebooks import read
from coursekit.course.notebooks import test_ids as graded_cells
from coursekit.preprocessors.hide_hidden_tests import HideHiddenTests
from support.cells import TEST_CELLS, cells_in_order
from support.course import NOTEBOOK, SOURCE
from support.secrets import FEEDBACK_MIN_LENGTH, helper_files, hidden_test_lines

SOURCE_NB = read(SOURCE / NOTEBOOK)


def test_hidden_test_lines_are_the_lines_the_feedback_filter_hides():
    ours, filters = set(hidden_test_lines(SOURCE_NB)), HideHiddenTests().secret_lines(SOURCE_NB)
    assert ours == filters, f"only the tests: {sorted(ours - filters)[:3]}; only the filter: {sorted(filters - ours)[:3]}"


def test_the_feedback_length_is_the_filters_setting():
    assert FEEDBACK_MIN_LENGTH == HideHiddenTests().min_secret_length


def test_a_line_also_outside_the_hidden_region_is_not_hidden():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x_visible_and_hidden = 1"),
        nbformat.v4.new_code_cell("check(f)\n### BEGIN HIDDEN TESTS\nx_visible_and_hidden = 1\n"
                                  "assert hidden_check_only_here(f)\n### END HIDDEN TESTS")])
    assert hidden_test_lines(nb) == ["### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS",
                                     "assert hidden_check_only_here(f)"]


def test_short_lines_count_only_when_asked():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nbreak\n### END HIDDEN TESTS")])
    assert "break" not in hidden_test_lines(nb) and "break" in hidden_test_lines(nb, min_length=1)


def test_lines_of_the_helper_files_are_not_hidden(tmp_path):
    helper = tmp_path / "checks.py"
    helper.write_text("def check(f):\n    assert hidden_check_only_here(f)  # shared\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "### BEGIN HIDDEN TESTS\nassert hidden_check_only_here(f)\n### END HIDDEN TESTS")])
    assert "assert hidden_check_only_here(f)" not in hidden_test_lines(nb, [helper])


def test_the_source_has_many_hidden_test_lines():
    assert len(hidden_test_lines(SOURCE_NB, helper_files(SOURCE))) > 100


def test_the_test_cell_list_is_the_notebooks():
    assert list(graded_cells(SOURCE_NB)) == list(TEST_CELLS), "support/cells.py's TEST_CELLS differ from the notebook"


def test_cells_in_order_lists_every_graded_cell_in_notebook_order():
    order = cells_in_order(SOURCE_NB)
    assert [c for c in order if c in TEST_CELLS] == list(TEST_CELLS)
    assert order.index("relu") < order.index("test_relu") < order.index("softmax")
