"""coursekit.lab without a browser: the student's copy of the release and the jupyter lab commands."""
import json
import os

import pytest

from coursekit import KitError
from coursekit.launchers.lab import STUDENT_LAB_PLUGINS_OFF, formgrader_lab, student_copy, student_lab
from support.course import ASSIGNMENT, NOTEBOOK, RELEASE, REPO


def test_student_copy_copies_the_release(tmp_path):
    notebook = student_copy(REPO, ASSIGNMENT, tmp_path / "work")
    for released in RELEASE.iterdir():
        copied = tmp_path / "work" / ASSIGNMENT / released.name
        assert copied.read_bytes() == released.read_bytes(), f"{copied} differs from {released}"
    assert notebook == tmp_path / "work" / ASSIGNMENT / NOTEBOOK


def test_student_copy_keeps_the_students_edits(tmp_path):
    notebook = student_copy(REPO, ASSIGNMENT, tmp_path / "work")
    notebook.write_text("the student's work")
    student_copy(REPO, ASSIGNMENT, tmp_path / "work")
    assert notebook.read_text() == "the student's work", "a second make lab overwrote the student's notebook"


def test_student_copy_without_a_release_says_to_make_it(tmp_path):
    with pytest.raises(KitError, match="run 'make release'"):
        student_copy(tmp_path, ASSIGNMENT, tmp_path / "work")


def test_student_lab_serves_the_copy_on_loopback_and_starts_at_the_notebook(tmp_path):
    command = student_lab(REPO, ASSIGNMENT, tmp_path / "work")
    assert "--ServerApp.ip=127.0.0.1" in command.argv
    assert f"--ServerApp.root_dir={tmp_path / 'work'}" in command.argv
    assert f"--LabApp.default_url=/lab/tree/{ASSIGNMENT}/{NOTEBOOK}" in command.argv
    assert command.cwd == tmp_path / "work", "Validate would read the course's nbgrader_config.py"


def test_student_lab_switches_off_nbgraders_instructor_plugins(tmp_path):
    command = student_lab(REPO, ASSIGNMENT, tmp_path / "work")
    config = command.env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0]
    page_config = json.loads((tmp_path / "work" / ".jupyter" / "labconfig" / "page_config.json").read_text())
    assert config == str(tmp_path / "work" / ".jupyter")
    assert page_config["disabledExtensions"] == {name: True for name in STUDENT_LAB_PLUGINS_OFF}
    assert "@jupyter/nbgrader:validate-assignment" not in STUDENT_LAB_PLUGINS_OFF


def test_formgrader_lab_starts_at_formgrader_in_the_course(tmp_path):
    command = formgrader_lab(REPO)
    assert "--LabApp.default_url=/formgrader" in command.argv
    assert command.cwd == REPO, "formgrader reads nbgrader_config.py from the server's working folder"


def test_formgrader_outside_a_course_says_where_to_run_it(tmp_path):
    with pytest.raises(KitError, match="no nbgrader_config.py"):
        formgrader_lab(tmp_path)
