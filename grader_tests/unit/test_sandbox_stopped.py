"""Sandbox.wait_for_stopped: a new sandbox starts once the processes of a stopped one, which share its uid and
so its process limit, are gone (a fork bomb's hundreds would otherwise leave the next kernel no thread).

Real processes of a spare uid stand for a stopped sandbox's; setting their uid needs root.
"""
import os
import subprocess
import threading
import time

import pytest

from coursekit.sandbox import Sandbox, tasks_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="processes of another uid need root")

UID = 65100  # a uid no grader uses (uid_base 61000 + pid % 4000 is at most 64999)


def sandbox(processes, stopped_wait):
    """A Sandbox whose sandboxes run as UID."""
    return Sandbox(uid_base=UID - os.getpid() % 4000, processes=processes, stopped_wait=stopped_wait)


@pytest.fixture
def leftovers():
    """Six sleeping processes of UID, as a stopped sandbox leaves them; killed and reaped at the end."""
    started = [subprocess.Popen(["sleep", "60"], user=UID, group=UID) for _ in range(6)]
    yield started
    for process in started:
        process.kill()
        process.wait()


def test_the_processes_of_a_uid_are_counted(leftovers):
    assert tasks_of(UID) == 6


def test_a_new_sandbox_waits_until_a_stopped_ones_processes_are_gone(leftovers):
    def stop():
        for process in leftovers:
            process.kill()
            process.wait()
    timer = threading.Timer(0.5, stop)
    timer.start()
    sandbox(processes=4, stopped_wait=60).wait_for_stopped()
    left = tasks_of(UID)
    timer.join()
    assert left <= 2, "the sandbox did not wait for the stopped one's processes"


def test_the_wait_ends_at_stopped_wait_when_they_stay(leftovers):
    started = time.monotonic()
    sandbox(processes=4, stopped_wait=0.3).wait_for_stopped()
    assert time.monotonic() - started >= 0.3, "it did not wait"
    assert tasks_of(UID) == 6, "they were left alone: only waited for"


def test_a_few_processes_of_the_uid_do_not_make_it_wait(leftovers):
    done = threading.Event()
    threading.Thread(target=lambda: (sandbox(processes=256, stopped_wait=60).wait_for_stopped(), done.set()),
                     daemon=True).start()
    assert done.wait(30), "six processes are far below half of the limit of 256: no wait"
