"""coursekit/grading/state.py: what a class's grading has done, kept per assignment, dropped when the grading
itself changed (the assignment's source or nbgrader_config.py), written so that a crash never leaves half."""
import json

import pytest

from coursekit.errors import KitError
from coursekit.grading import state as state_module
from coursekit.grading.state import Outcome, State, only_run


@pytest.fixture
def course(tmp_path):
    """A course folder with two assignments (nbgrader_config.py and one notebook each; nothing generated)."""
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    for name in ["week1", "week2"]:
        (tmp_path / "source" / name).mkdir(parents=True)
        (tmp_path / "source" / name / f"{name}.ipynb").write_text('{"cells": []}')
    return tmp_path


def saved_state(course, assignment="week1", **outcome):
    state = State(course, assignment)
    state.record(Outcome("alice", "fingerprint-1", **{"score": 3.0, "max_score": 4.0, **outcome}))
    return state


def test_outcomes_survive_a_save_and_a_load(course):
    saved_state(course, reason="the kernel died in relu", seconds=2.5)
    loaded = State(course, "week1").outcomes
    assert loaded == {"alice": Outcome("alice", "fingerprint-1", 3.0, 4.0, "the kernel died in relu", 2.5)}, loaded


def test_the_state_is_kept_per_assignment(course):
    saved_state(course, "week1")
    assert (course / "autograded" / ".coursekit" / "week1.json").exists()
    assert State(course, "week2").outcomes == {}, "week2 sees week1's outcomes"
    assert not (course / "autograded" / ".coursekit" / "week2.json").exists(), "reading week2 wrote its state"


def test_a_changed_source_drops_the_outcomes(course):
    saved_state(course)
    (course / "source" / "week1" / "week1_checks.py").write_text("TOLERANCE = 1e-6\n")
    assert State(course, "week1").outcomes == {}, "outcomes of the old source were kept"


def test_a_changed_nbgrader_config_drops_the_outcomes(course):
    saved_state(course)
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 5\n")
    assert State(course, "week1").outcomes == {}, "outcomes of the old configuration were kept"


def test_a_change_to_another_assignment_keeps_the_outcomes(course):
    saved_state(course)
    (course / "source" / "week2" / "week2.ipynb").write_text('{"cells": [], "changed": 1}')
    assert "alice" in State(course, "week1").outcomes, "changing week2 made week1 grade everything again"


@pytest.mark.parametrize("content", ["{half a file", "[]", '{"version": 0, "students": {}}',
                                     '{"version": 1, "grading": "x", "students": {"alice": {"bad": 1}}}'])
def test_an_unreadable_or_old_state_means_grading_again(course, content):
    path = saved_state(course).path
    if content.startswith('{"version": 1'):
        content = content.replace('"x"', json.dumps(State(course, "week1").grading))
    path.write_text(content)
    assert State(course, "week1").outcomes == {}


def test_save_replaces_the_file_whole_and_leaves_no_temporary(course):
    state = saved_state(course)
    assert [p.name for p in state.folder.iterdir()] == ["week1.json"], list(state.folder.iterdir())


def test_a_crash_while_saving_leaves_the_previous_state_whole(course, monkeypatch):
    state = saved_state(course)
    before = state.path.read_text()

    def crash(*args):
        raise OSError("disk full")
    monkeypatch.setattr(state_module.os, "replace", crash)
    state.outcomes["bob"] = Outcome("bob", "fingerprint-2")
    with pytest.raises(OSError):
        state.save()
    assert state.path.read_text() == before, "the state file was written in place, not replaced atomically"


def test_forget_drops_outcomes_and_saves_at_once(course):
    state = saved_state(course)
    state.forget(["alice"])
    assert State(course, "week1").outcomes == {}, "a forgotten outcome came back after loading"


def test_only_one_run_grades_an_assignment_at_a_time(course):
    with only_run(State(course, "week1")):
        with pytest.raises(KitError, match="another grade command"):
            with only_run(State(course, "week1")):
                pass


def test_runs_of_two_assignments_do_not_block_each_other(course):
    with only_run(State(course, "week1")):
        with only_run(State(course, "week2")):
            pass
