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


def limit_of(section, timeout, name="call_timeout", **referee):
    from traitlets.config import Config
    config = Config()
    config[section].timeout = timeout
    return Referee(config=config, **referee).limit(name)


def test_the_referee_limits_one_call_to_the_notebooks_cell_limit():
    assert limit_of("Execute", 7) == 7, "by default a call may take as long as one cell (c.Execute.timeout)"
    assert limit_of("KernelSafeExecute", 90) == 90
    assert limit_of("Execute", 7, call_timeout=3) == 3


def test_the_referee_limits_a_submissions_cell_in_the_worker_to_the_notebooks_cell_limit():
    assert limit_of("Execute", 7, "cell_timeout") == 7
    assert limit_of("Execute", 7, "cell_timeout", cell_timeout=20) == 20


@pytest.mark.parametrize("timeout", [None, 0, -1])
def test_a_submissions_cell_in_the_worker_has_a_limit_even_when_the_notebooks_cells_have_none(timeout):
    assert limit_of("Execute", timeout, "cell_timeout") == 30


def test_the_referee_gives_the_calls_of_one_cell_twice_the_notebooks_cell_limit():
    assert limit_of("Execute", 7, "test_timeout") == 14
    assert limit_of("Execute", 7, "test_timeout", test_timeout=5) == 5
    assert limit_of("Execute", None, "test_timeout") is None


@pytest.mark.parametrize("timeout", [None, 0, -1])
def test_no_cell_limit_means_no_call_limit(timeout):
    assert limit_of("Execute", timeout) is None, "nbclient reads None, 0 and -1 as no limit"


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


def test_a_worker_that_cannot_be_started_again_fails_every_later_call_without_new_attempts(tmp_path):
    starts = []

    def start():
        starts.append(1)
        if len(starts) > 1:
            raise OSError("no more processes")
        return StudentProcess([HANGS_IN_F, DEFINES_G], tmp_path, unsandboxed(), timeout=60, call_timeout=1)

    student = RestartingStudent(start)
    with pytest.raises(StudentCodeError):
        proxy(student, "f")(np.array([1.0]))
    for _ in range(2):
        with pytest.raises(StudentCodeError, match="could not be started again"):
            proxy(student, "g")(np.array([1.0]))
    assert len(starts) == 2


SLOW_F = "import time\ndef f(x):\n    time.sleep(0.5)\n    return x + 1"


def restarting(tmp_path, cells, starts, call_timeout=5, **limits):
    """A RestartingStudent of the cells, unsandboxed, that counts its workers' starts in starts."""
    def start():
        starts.append(1)
        return StudentProcess(cells, tmp_path, unsandboxed(), timeout=60, call_timeout=call_timeout, **limits)
    return RestartingStudent(start)


def test_a_function_slow_in_every_call_costs_one_cells_limit_then_fails_at_once(tmp_path):
    starts = []
    student = restarting(tmp_path, [SLOW_F, DEFINES_G], starts)
    try:
        started = time.monotonic()
        # calls at 0, 0.5 and 1 s: the limit of 1.2 s falls in the third, whatever the round trips add
        with student.time_limit(1.2, "test_f"), \
                pytest.raises(StudentCodeError, match="f was still running at the 1.2 s time limit of test_f"):
            for i in range(20):  # 10 s of calls (each a new question), each under the call limit of 5 s
                proxy(student, "f")(np.array([float(i)]))
        assert time.monotonic() - started < 4, "the calls were stopped at the cell's limit, not after all 20"
        with student.time_limit(1, "test_training"):
            with pytest.raises(StudentCodeError, match="f was still running"):
                proxy(student, "f")(np.array([1.0]))
            assert proxy(student, "g")(np.array([1.0])).tolist() == [2.0], "g answers from a new worker"
        assert len(starts) == 2, "f, stopped as hung, was not called again"
    finally:
        student.close()


def test_a_call_after_the_cells_limit_fails_without_stopping_the_worker(tmp_path):
    starts = []
    student = restarting(tmp_path, [DEFINES_F, DEFINES_G], starts)
    try:
        with student.time_limit(0.2, "test_f"):
            time.sleep(0.3)  # the referee's own checks used the cell's time
            with pytest.raises(StudentCodeError, match="test_f ran past its 0.2 s time limit"):
                proxy(student, "f")(np.array([1.0]))
        with student.time_limit(5, "test_g"):
            assert proxy(student, "f")(np.array([1.0])).tolist() == [2.0], "f is not hung: nothing of it ran"
        assert proxy(student, "g")(np.array([1.0])).tolist() == [2.0], "outside a cell, no cell limit"
        assert len(starts) == 1, "the worker was not stopped"
    finally:
        student.close()


def test_starting_a_new_worker_does_not_use_up_the_cells_limit(tmp_path):
    starts = []  # each worker runs the submission's cells again: 1.5 s here
    student = restarting(tmp_path, [HANGS_IN_F, "import time\ntime.sleep(1.5)", DEFINES_G], starts, call_timeout=1,
                         cell_timeout=5)
    try:
        with pytest.raises(StudentCodeError, match="f ran past"):
            proxy(student, "f")(np.array([1.0]))
        with student.time_limit(1, "test_g"):
            assert proxy(student, "g")(np.array([1.0])).tolist() == [2.0], "the restart is not the cell's time"
        assert len(starts) == 2
    finally:
        student.close()
