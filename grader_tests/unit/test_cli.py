"""coursekit/cli.py: which assignment a command works on, and errors that fit on one line."""
import pytest

from coursekit.cli import build_parser, main, pick_assignment
from coursekit.errors import KitError


def make_course(folder, *assignments):
    (folder / "nbgrader_config.py").write_text("c = get_config()\n")
    for name in assignments:
        (folder / "source" / name).mkdir(parents=True)
        (folder / "source" / name / f"{name}.ipynb").write_text('{"cells": []}')
    return folder


def test_the_only_assignment_is_the_default(tmp_path):
    assert pick_assignment(make_course(tmp_path, "week1"), None) == "week1"


def test_a_named_assignment_is_picked(tmp_path):
    assert pick_assignment(make_course(tmp_path, "week1", "week2"), "week2") == "week2"


def test_several_assignments_need_a_name(tmp_path):
    with pytest.raises(KitError) as error:
        pick_assignment(make_course(tmp_path, "week1", "week2"), None)
    message = str(error.value)
    assert "\n" not in message and "week1" in message and "week2" in message, message


def test_an_unknown_assignment_is_a_one_line_error_naming_the_known_ones(tmp_path):
    with pytest.raises(KitError) as error:
        pick_assignment(make_course(tmp_path, "week1", "week2"), "week3")
    message = str(error.value)
    assert "\n" not in message, f"not one line: {message!r}"
    assert "'week3'" in message and "week1, week2" in message, message


def test_a_course_without_assignments_says_where_to_run(tmp_path):
    with pytest.raises(KitError, match="no assignment"):
        pick_assignment(make_course(tmp_path), None)


def test_grade_without_a_name_in_a_course_of_two_exits_2_with_one_line(tmp_path, capsys):
    course = make_course(tmp_path, "week1", "week2")
    assert main(["--course", str(course), "grade"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "week1" in error and "week2" in error, error


@pytest.mark.parametrize("command", ["release", "grade", "report", "demo", "lab", "formgrader"])
def test_every_command_takes_the_assignment(command):
    args = build_parser().parse_args([command, "week2"])
    assert args.assignment == "week2", f"{command} does not take an assignment"


def test_release_without_a_name_means_every_assignment():
    assert build_parser().parse_args(["release"]).assignment is None


def test_grade_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["grade", "--help"])
    text = capsys.readouterr().out
    for option in ["--workers", "--timeout", "--student", "--force"]:
        assert option in text, f"grade --help does not mention {option}"
