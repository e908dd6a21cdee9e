"""coursekit/preprocessors/safe_execute.py: a function that hangs costs one cell's time limit, not one per call.

One small notebook runs once in a plain kernel (no sandbox: the unit is the preprocessor) with a 2 s limit per
cell. Its answer cells (nbgrader solution cells, grade_id = the function's name) define f, which hangs, g,
which does not, h, which raises, and k, a loop behind functools.lru_cache (a wrapper with no code of its own); a given cell defines check,
the instructor's helper that calls an answer.
"""
import asyncio
import logging
import time

import nbformat
import pytest

from coursekit.preprocessors.safe_execute import TIMED_OUT, KernelSafeExecute, function_name, kernel_stop

LOOP = "while True:\n    pass"
CELLS = [
    ("f", "def f():\n    while True:\n        pass"),
    ("g", "def g():\n    return 2"),
    (None, "def check(function):\n    return function()"),
    (None, "check(f)"),                       # 3: times out inside f, called by the instructor's check
    (None, "f()"),                            # 4
    (None, "print(g())"),                     # 5
    (None, "print(check(lambda: 3))"),        # 6
    (None, LOOP),                             # 7: times out outside any function
    ("h", "def h():\n    raise ValueError('wrong')"),
    (None, "h()"),                            # 9: an error: the kernel keeps its traceback
    (None, "try:\n    while True:\n        pass\nexcept KeyboardInterrupt:\n    pass"),  # 10: catches the interrupt
    (None, "h()"),                            # 11
    ("k", "import functools\n\n@functools.lru_cache(maxsize=None)\ndef k():\n    while True:\n        pass"),
    (None, "k()"),                            # 13: times out inside the function lru_cache wraps
    (None, "k()"),                            # 14
    (None, "print([name for name in dir() if 'coursekit' in name])"),  # 15
]


def cell(grade_id, code):
    """A code cell; an nbgrader answer cell when grade_id is given."""
    new = nbformat.v4.new_code_cell(code)
    if grade_id:
        new.metadata.nbgrader = {"grade_id": grade_id, "solution": True, "grade": False, "locked": False}
    return new


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """(the notebook after KernelSafeExecute, the lines it logged)."""
    nb = nbformat.v4.new_notebook(cells=[cell(grade_id, code) for grade_id, code in CELLS])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    lines = []
    log = logging.getLogger("test_safe_execute")
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    log.addHandler(handler)
    try:
        # flood_quiet: after each interrupt the grader waits that long for more output; these cells print none
        executor = KernelSafeExecute(timeout=2, flood_quiet=0.2, log=log)
        executor.preprocess(nb, {"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    finally:
        log.removeHandler(handler)
    return nb, lines


def errors(cell):
    return [output.ename for output in cell.outputs if output.output_type == "error"]


def printed(cell):
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def test_the_cell_that_hung_is_interrupted(executed):
    nb, _ = executed
    assert "KeyboardInterrupt" in errors(nb.cells[3])


def test_a_later_call_of_the_hung_answer_fails_at_once_with_a_timeout_error(executed):
    nb, _ = executed
    assert errors(nb.cells[4]) == ["TimeoutError"], "f hung in an earlier cell: it should not have run again"
    assert "f ran past the 2 s time limit in an earlier cell" in nb.cells[4].outputs[-1].evalue


def test_the_other_answers_still_run(executed):
    nb, _ = executed
    assert printed(nb.cells[5]) == "2\n"


def test_the_instructors_function_that_called_the_hung_answer_is_kept(executed):
    nb, _ = executed
    assert printed(nb.cells[6]) == "3\n", "check, the instructor's helper, was replaced instead of f"


def test_a_hang_outside_any_function_replaces_nothing(executed):
    nb, lines = executed
    assert "KeyboardInterrupt" in errors(nb.cells[7])
    assert not [line for line in lines if line.startswith(TIMED_OUT) and "cell 8" in line]


def test_an_interrupt_the_code_caught_does_not_blame_an_earlier_error(executed):
    nb, _ = executed
    assert errors(nb.cells[11]) == ["ValueError"], "h raised in an earlier cell; it never hung"


def test_a_wrapped_answer_is_found_through_its_wrapper(executed):
    nb, _ = executed
    assert errors(nb.cells[14]) == ["TimeoutError"], "k hung inside the function its lru_cache wraps"


def test_the_log_names_each_hung_answer_once_with_its_cell(executed):
    _, lines = executed
    assert [line for line in lines if line.startswith(TIMED_OUT)] == [f"{TIMED_OUT} f in cell 4",
                                                                      f"{TIMED_OUT} k in cell 14"]


def test_the_notebook_keeps_no_name_of_the_grader(executed):
    nb, _ = executed
    assert printed(nb.cells[15]) == "[]\n"


def test_an_error_shows_the_line_of_each_frame_without_ipythons_context(executed):
    nb, _ = executed
    shown = "\n".join(nb.cells[9].outputs[-1].traceback)
    assert "raise ValueError('wrong')" in shown, f"the student should see the line that raised: {shown}"
    assert "---->" not in shown, f"the kernel formatted the error in IPython's Context mode (slow): {shown}"


def test_the_error_shows_no_code_of_the_grader(executed):
    nb, _ = executed
    shown = "".join(nb.cells[4].outputs[-1].traceback)
    assert "raise TimeoutError(message)" not in shown and "_coursekit" not in shown


@pytest.mark.parametrize("text, name", [("'relu'", "relu"), ('"sgd_update"', "sgd_update"), ("None", None),
                                        ("'a b'", None), ("'relu\\n[ERROR] x'", None), ("relu", None), ("", None)])
def test_only_a_quoted_identifier_is_taken_as_the_hung_functions_name(text, name):
    assert function_name(text) == name, f"the kernel's answer {text!r} should name {name!r}"


FLOOD = "import sys\nwhile True:\n    sys.stdout.write('x' * 2 ** 20)"


@pytest.fixture(scope="module")
def flooded(tmp_path_factory):
    """(notebook, preprocessor) after a notebook whose second cell prints 1 MiB after 1 MiB until its 5 s limit
    ran with a 4 MiB output limit (5 s: the first cell must not time out on a busy machine), and with resources
    that still said where an earlier notebook's kernel stopped."""
    nb = nbformat.v4.new_notebook(cells=[cell(None, "x = 1"), cell(None, FLOOD), cell(None, "print(x)")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    executor = KernelSafeExecute(timeout=5, max_output_mb=4)
    stale = {"index": 0, "cell": "cell 1", "error": "KernelDied: in an earlier notebook"}
    executor.preprocess(nb, {"metadata": {"path": str(tmp_path_factory.mktemp("flood"))},
                             "coursekit": {"kernel_stopped": stale}})
    return nb, executor


@pytest.mark.slow  # the flooded notebook: about 10 s of a kernel printing
def test_after_a_flooding_cell_is_interrupted_the_later_cells_run(flooded):
    nb, _ = flooded
    errors = [[o.ename for o in c.outputs if o.output_type == "error"] for c in nb.cells]
    assert errors == [[], ["CellTimeoutError"], []], errors
    assert nb.cells[2].execution_count, "the cell after the flood ran (its output is past the limit: dropped)"


@pytest.mark.slow  # the flooded notebook: about 10 s of a kernel printing
def test_a_flooding_cell_keeps_only_the_output_limit(flooded):
    printed = sum(len(o.get("text", "")) for o in flooded[0].cells[1].outputs if o.output_type == "stream")
    assert printed <= (4 << 20) + 1000, f"{printed} bytes of output kept"


def draining(arrives_for, **options):
    """Seconds KernelSafeExecute.drain waited while output arrived for arrives_for seconds."""
    executor = KernelSafeExecute(**options)
    executor.cell_output_bytes = 0

    async def arrive():
        end = time.monotonic() + arrives_for
        while time.monotonic() < end:
            executor.cell_output_bytes += 1 << 20
            await asyncio.sleep(0.05)

    async def both():
        output = asyncio.create_task(arrive())
        started = time.monotonic()
        await executor.drain()
        waited = time.monotonic() - started
        output.cancel()
        return waited

    return asyncio.run(both())


def test_after_the_interrupt_the_grader_waits_while_output_keeps_arriving():
    waited = draining(2.5, flood_quiet=0.5, flood_wait=30)
    assert 2.5 <= waited < 5, f"waited {waited:.1f} s for output that arrived for 2.5 s"


def test_the_wait_for_output_ends_at_flood_wait():
    waited = draining(10, flood_quiet=0.5, flood_wait=2)
    assert 2 <= waited < 4, f"waited {waited:.1f} s with flood_wait=2"


def test_without_new_output_the_wait_ends_after_flood_quiet():
    waited = draining(0, flood_quiet=0.3, flood_wait=30)
    assert waited < 1.5, f"waited {waited:.1f} s though no output arrived"


@pytest.mark.slow  # the flooded notebook: about 10 s of a kernel printing
def test_the_longer_wait_for_a_flooding_cells_kernel_ends_with_the_cell(flooded):
    _, executor = flooded
    assert executor.iopub_timeout == KernelSafeExecute().iopub_timeout


@pytest.fixture(scope="module")
def died(tmp_path_factory):
    """(notebook, resources) after a notebook whose second cell ends the kernel's process."""
    nb = nbformat.v4.new_notebook(cells=[cell(None, "x = 1"), cell(None, "import os\nos._exit(1)"),
                                         cell(None, "print(x)")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return KernelSafeExecute(timeout=5).preprocess(nb, {"metadata": {"path": str(tmp_path_factory.mktemp("died"))}})


def test_the_resources_tell_the_referee_where_the_kernel_stopped(died):
    _, resources = died
    assert kernel_stop(resources) == {
        "index": 1, "cell": "cell 2",
        "error": "KernelDied: the kernel died while running this cell (a crash, an exit, or the grading time limit)"}


def test_the_cells_after_the_kernel_stopped_say_so(died):
    nb, _ = died
    assert [(o.ename, o.evalue) for o in nb.cells[2].outputs] == [
        ("NotRun", "the kernel stopped while running cell 2, so this cell was not run")]


@pytest.mark.slow  # the flooded notebook: about 10 s of a kernel printing
def test_when_every_cell_ran_the_resources_say_the_kernel_did_not_stop(flooded):
    _, executor = flooded  # its resources came with a stop of an earlier notebook
    assert kernel_stop(executor.resources) is None
