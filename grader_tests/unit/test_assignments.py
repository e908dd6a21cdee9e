"""coursekit/course/assignments.py: the assignments of a course folder are the folders of source/ with a notebook."""
import pytest

from coursekit.course.assignments import assignments, notebook_path, notebooks
from coursekit.errors import KitError


def test_assignments_are_the_source_folders_with_a_notebook_sorted(tmp_path):
    for name in ["week2", "week1"]:
        (tmp_path / "source" / name).mkdir(parents=True)
        (tmp_path / "source" / name / f"{name}.ipynb").write_text("{}")
    (tmp_path / "source" / "data").mkdir()
    (tmp_path / "source" / "data" / "moons.csv").write_text("")
    (tmp_path / "source" / "notes.md").write_text("")
    assert assignments(tmp_path) == ["week1", "week2"]


def test_a_folder_without_source_has_no_assignments(tmp_path):
    assert assignments(tmp_path) == []


def test_notebooks_of_an_assignment(tmp_path):
    folder = tmp_path / "source" / "week1"
    folder.mkdir(parents=True)
    (folder / "b.ipynb").write_text("{}")
    (folder / "a.ipynb").write_text("{}")
    (folder / "a_checks.py").write_text("")
    assert notebooks(tmp_path, "week1") == ["a", "b"]


def test_an_assignment_with_several_notebooks_is_refused_where_one_is_needed(tmp_path):
    folder = tmp_path / "source" / "week1"
    folder.mkdir(parents=True)
    (folder / "a.ipynb").write_text("{}")
    (folder / "b.ipynb").write_text("{}")
    with pytest.raises(KitError, match="several notebooks"):
        notebook_path(tmp_path, "week1")


def test_a_missing_release_says_to_make_it(tmp_path):
    (tmp_path / "source" / "week1").mkdir(parents=True)
    (tmp_path / "source" / "week1" / "week1.ipynb").write_text("{}")
    with pytest.raises(KitError, match="make release"):
        notebooks(tmp_path, "week1", folder="release")
