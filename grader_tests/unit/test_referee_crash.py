"""A cell that kills or hangs the referee's worker costs only what it and the cells after it define.

The worker runs without the sandbox here (a plain Python process): the unit under test is the protocol's
progress report and the referee's second start with the cells before the crash.
"""
import time

import numpy as np
import pytest

from coursekit.preprocessors.referee import Referee
from coursekit.sandbox import Sandbox
from coursekit.sandbox.functions import RestartingStudent, StudentCodeError, StudentProcess, proxy

DEFINES_F = "def f(x):\n    return x + 1"
DEFINES_G = "def g(x):\n    return x * 2"
EXITS = "import os\nos._exit(3)"
HANGS = "while True:\n    pass"


def unsandboxed():
    return Sandbox(enabled=False)


@pytest.mark.parametrize("crash", [EXITS, HANGS], ids=["exit", "hang"])
def test_the_worker_reports_how_many_cells_ran_before_it_stopped(tmp_path, crash):
    with pytest.raises(StudentCodeError) as stopped:
        StudentProcess([DEFINES_F, crash, DEFINES_G], tmp_path, unsandboxed(), timeout=20, cell_timeout=2)
    assert stopped.value.defined == 1, "the worker ran DEFINES_F, then stopped in the second cell"


def test_a_worker_that_ran_every_cell_reports_no_count(tmp_path):
    student = StudentProcess([DEFINES_F, DEFINES_G], tmp_path, unsandboxed(), timeout=20, cell_timeout=2)
    try:
        assert student.defined is None
    finally:
        student.close()


@pytest.mark.parametrize("crash", [EXITS, HANGS], ids=["exit", "hang"])
def test_the_referee_keeps_the_functions_defined_before_the_crash(tmp_path, crash):
    referee = Referee(timeout=30, cell_timeout=2)
    student = referee.start_student([DEFINES_F, crash, DEFINES_G], tmp_path, unsandboxed(), None)
    try:
        assert proxy(student, "f")(np.array([1.0])).tolist() == [2.0], "f was defined before the crash"
        with pytest.raises(StudentCodeError, match="g raised"):
            proxy(student, "g")(np.array([1.0]))
    finally:
        student.close()


def test_a_crash_in_the_first_cell_fails_every_test(tmp_path):
    with pytest.raises(StudentCodeError):
        Referee(timeout=30, cell_timeout=2).start_student([EXITS, DEFINES_F], tmp_path, unsandboxed(), None)


HANGS_IN_F = "def f(x):\n    while True:\n        pass"


def test_a_hung_call_costs_the_call_limit_not_the_whole_budget(tmp_path):
    student = StudentProcess([HANGS_IN_F], tmp_path, unsandboxed(), timeout=60, call_timeout=1)
    started = time.monotonic()
    with pytest.raises(StudentCodeError, match="f ran past the 1 s time limit of one call"):
        proxy(student, "f")(np.array([1.0]))
    assert time.monotonic() - started < 30, "the call was stopped at its own limit, long before the budget of 60 s"


def test_the_referee_limits_one_call_to_the_notebooks_cell_limit():
    from traitlets.config import Config
    config = Config()
    config.Execute.timeout = 7
    assert Referee(config=config).call_limit() == 7, "by default a call may take as long as one cell (Execute)"
    assert Referee(config=config, call_timeout=3).call_limit() == 3


def test_after_a_hung_call_the_other_functions_still_answer_and_the_hung_one_fails_at_once(tmp_path):
    starts = []

    def start():
        starts.append(1)
        return StudentProcess([HANGS_IN_F, DEFINES_G], tmp_path, unsandboxed(), timeout=60, call_timeout=1)

    student = RestartingStudent(start)
    try:
        with pytest.raises(StudentCodeError, match="f ran past"):
            proxy(student, "f")(np.array([1.0]))
        assert proxy(student, "g")(np.array([1.0])).tolist() == [2.0], "g answers from a worker started again"
        with pytest.raises(StudentCodeError, match="f ran past"):
            proxy(student, "f")(np.array([1.0]))
        assert len(starts) == 2, "f was not called again: no third worker"
    finally:
        student.close()
