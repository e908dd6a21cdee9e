"""The referee after the notebook's kernel stopped (safe_execute.kernel_stop): it runs the submission's cells
and the tests before the cell where the kernel stopped, never that cell or a later one, whose tests score 0 in
the notebook anyway; their results say what the kernel did.

A small notebook, refereed without the sandbox (a plain Python worker): the unit is the referee's choice of
cells. The answer cell where the kernel stopped (told by the resources, as after the grading time limit) runs
fine in the worker, where it would define g and break f.
"""
import nbformat
import pytest
from traitlets.config import Config

from coursekit.preprocessors.referee import Referee
from support.cells import nbgrader_cell

UNRESPONSIVE = "KernelUnresponsive: this cell ran past the 30 s limit and the kernel did not stop when interrupted"


CELLS = [
    nbgrader_cell("code", "setup", "import numpy as np"),
    nbgrader_cell("code", "f", "def f(x):\n    return x + 1", solution=True),
    nbgrader_cell("code", "test_f", "assert f(np.array([1.0]))[0] == 2.0, 'f(1) should be 2'", points=1),
    nbgrader_cell("code", "g", "def f(x):\n    return x\n\ndef g(x):\n    return 2 * x", solution=True),  # 3
    nbgrader_cell("code", "test_g", "assert g(np.array([1.0]))[0] == 2.0, 'g(1) should be 2'", points=1),  # 4
    nbgrader_cell("code", "test_f_again", "assert f(np.array([2.0]))[0] == 3.0, 'f(2) should be 3'", points=1),  # 5
]


def referee_results(tmp_path, stopped):
    """{test grade_id: the referee's result} after refereeing CELLS with resources saying where the kernel
    stopped (None: nowhere)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.from_dict(c) for c in CELLS])
    config = Config()
    config.Sandbox.enabled = False
    resources = {"metadata": {"path": str(tmp_path)}, "coursekit": {"kernel_stopped": stopped}}
    nb, _ = Referee(config=config).preprocess(nb, resources)
    return {c.metadata.nbgrader["grade_id"]: c.metadata.coursekit["referee"] for c in nb.cells
            if "coursekit" in c.metadata}


def test_the_tests_before_the_cell_where_the_kernel_stopped_run_without_that_cell(tmp_path):
    results = referee_results(tmp_path, {"index": 3, "cell": "g", "error": UNRESPONSIVE})
    assert results["test_f"]["passed"], results["test_f"]["error"]


def test_the_tests_after_the_cell_where_the_kernel_stopped_say_they_did_not_run(tmp_path):
    results = referee_results(tmp_path, {"index": 3, "cell": "g", "error": UNRESPONSIVE})
    for name in ("test_g", "test_f_again"):
        assert not results[name]["passed"]
        assert results[name]["error"] == "NotRun: the kernel stopped while running g, so this cell was not run"


def test_the_test_cell_where_the_kernel_stopped_has_the_kernels_error(tmp_path):
    results = referee_results(tmp_path, {"index": 4, "cell": "test_g", "error": UNRESPONSIVE})
    assert results["test_g"] == {"passed": False, "output": "", "error": UNRESPONSIVE, "reason": UNRESPONSIVE}
    assert "NotRun" in results["test_f_again"]["error"]


def test_a_stop_before_any_test_leaves_every_test_failed_without_starting_a_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(Referee, "referee", lambda *args: pytest.fail("the referee started a worker"))
    results = referee_results(tmp_path, {"index": 1, "cell": "f", "error": "KernelDied: the kernel died"})
    assert results["test_f"]["error"] == "NotRun: the kernel stopped while running f, so this cell was not run"
    assert not any(result["passed"] for result in results.values())


def test_without_a_stop_the_worker_runs_every_answer_cell(tmp_path):
    results = referee_results(tmp_path, None)
    assert results["test_g"]["passed"] and not results["test_f_again"]["passed"]
