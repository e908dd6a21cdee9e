"""Which core each grading worker gets (coursekit/grading/local.py)."""
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
