"""coursekit/preprocessors/safe_execute.py: a function that hangs costs one cell's time limit, not one per call.

One small notebook runs once in a plain kernel (no sandbox: the unit is the preprocessor) with a 2 s limit per
cell: f hangs, g does not, and a later cell calls each.
"""
import logging

import nbformat
import pytest

from coursekit.preprocessors.safe_execute import TIMED_OUT, KernelSafeExecute

DEFINES = "def f():\n    while True:\n        pass\n\ndef g():\n    return 2"
CELLS = [DEFINES, "f()", "f()", "print(g())", "while True:\n    pass", "print(g())",
         "print([name for name in dir() if 'coursekit' in name])"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """(the notebook after KernelSafeExecute, the lines it logged)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in CELLS])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    lines = []
    log = logging.getLogger("test_safe_execute")
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    log.addHandler(handler)
    try:
        KernelSafeExecute(timeout=2, log=log).preprocess(nb, {"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    finally:
        log.removeHandler(handler)
    return nb, lines


def errors(cell):
    return [output.ename for output in cell.outputs if output.output_type == "error"]


def test_the_cell_that_hung_is_interrupted(executed):
    nb, _ = executed
    assert "KeyboardInterrupt" in errors(nb.cells[1])


def test_a_later_call_of_the_hung_function_fails_at_once_with_a_timeout_error(executed):
    nb, _ = executed
    assert errors(nb.cells[2]) == ["TimeoutError"], "f hung in an earlier cell: it should not have run again"
    assert "ran past the 2 s time limit in an earlier cell" in nb.cells[2].outputs[-1].evalue


def test_the_other_functions_still_run(executed):
    nb, _ = executed
    assert nb.cells[3].outputs[0].text == "2\n"
    assert nb.cells[5].outputs[0].text == "2\n", "a hang outside any function replaced no function"


def test_the_log_names_the_hung_function_once(executed):
    _, lines = executed
    assert [line for line in lines if line.startswith(TIMED_OUT)] == [f"{TIMED_OUT} f in cell 2"]


def test_the_notebook_keeps_no_name_of_the_grader(executed):
    nb, _ = executed
    assert nb.cells[6].outputs[0].text == "[]\n"


def test_the_error_shows_no_code_of_the_grader(executed):
    nb, _ = executed
    assert "coursekit" not in "".join(nb.cells[2].outputs[-1].traceback)
