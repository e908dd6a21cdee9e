"""coursekit/grading/local.py: which core each grading worker gets, and how run_tasks replaces workers."""
import os

import pytest

from coursekit.grading import local


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5, 2, 7, 3})


def test_each_worker_gets_a_core_of_its_own_when_there_are_enough(four_cores):
    assert local.cores_for(3) == [2, 3, 5]


def test_as_many_workers_as_cores_use_every_core(four_cores):
    assert local.cores_for(4) == [2, 3, 5, 7]


def test_no_worker_is_pinned_when_there_are_more_workers_than_cores(four_cores):
    assert local.cores_for(5) == [None] * 5


class FakeWorker:
    """A stand-in for local.Worker in run_tasks: its submit fails when its pipe is broken; it is gone once
    dies_after tasks are done."""

    def __init__(self, course, index, core=None, kernels=False, zygote=None, broken=False, dies_after=None):
        self.index, self.core, self.kernels, self.zygote = index, core, kernels, zygote
        self.broken, self.dies_after = broken, dies_after
        self.task, self.done, self.closed = None, [], False
        self.conn, self.process = None, type("Process", (), {"sentinel": None})()

    def submit(self, task):
        if self.broken:
            raise BrokenPipeError("the worker died")
        self.task = task

    def gone(self):
        return self.dies_after is not None and len(self.done) >= self.dies_after

    def close(self, wait=10):
        self.closed = True


@pytest.fixture
def fake_workers(monkeypatch):
    """Every Worker run_tasks starts, in order; run(pool, tasks) runs them all and returns the done tasks."""
    started = []
    monkeypatch.setattr(local, "Worker", lambda *args: started.append(FakeWorker(*args)) or started[-1])
    monkeypatch.setattr(local, "wait", lambda objects, timeout: None)

    def check(worker):
        worker.done.append(worker.task)
        worker.task = None
        return True

    def run(pool, tasks):
        from collections import deque
        workers = list(pool)
        local.run_tasks(pool, deque(tasks), check, course=None)
        return sorted(task for worker in [*workers, *started] for task in worker.done)
    run.started = started
    return run


def test_a_task_given_to_a_worker_that_died_while_idle_goes_to_its_replacement(fake_workers):
    broken = FakeWorker(None, 1, broken=True)
    pool = [broken, FakeWorker(None, 2)]
    assert fake_workers(pool, ["a", "b", "c"]) == ["a", "b", "c"]
    assert broken.closed and pool[0] is not broken and pool[0].index == 1


def test_a_worker_that_is_gone_is_replaced_while_tasks_are_left(fake_workers):
    pool = [FakeWorker(None, 1, dies_after=1)]
    assert fake_workers(pool, ["a", "b"]) == ["a", "b"]
    assert len(fake_workers.started) == 1, "one replacement, for the second task"


def test_no_worker_is_started_for_no_task(fake_workers):
    pool = [FakeWorker(None, 1, dies_after=1)]
    assert fake_workers(pool, ["a"]) == ["a"]
    assert fake_workers.started == [], "the last task was done: a new worker (and its kernel zygote) is waste"
