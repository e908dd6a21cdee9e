"""RebuildFromSource on notebooks in memory (no kernel, no gradebook), a notebook under another name, and the
reason the grade command gives: one behaviour per test."""
import copy
import os
from types import SimpleNamespace

import nbformat
import pytest
from nbgrader.coursedir import CourseDirectory
from nbgrader.nbgraderformat import MetadataValidator
from traitlets.config import Config

from coursekit.course.notebooks import build_submission, cells_by_id, nbgrader_meta, reference_answers
from coursekit.course.submissions import stand_in
from coursekit.grading.tasks import Task, repair_reason, staged
from coursekit.preprocessors import RebuildFromSource, install
from coursekit.preprocessors.rebuild import REPAIRED, notebook_cells, rebuild

LEAKY_RELU = "def relu(z):\n    return np.where(z > 0, z, 0.01 * z)"


@pytest.fixture(scope="module")
def instructor(release_nb):
    return notebook_cells(release_nb)


@pytest.fixture
def solved(release_nb, source_nb):
    """A fresh copy of the reference solution and its cells by grade_id."""
    nb = build_submission(release_nb, reference_answers(source_nb))
    return nb, cells_by_id(nb)


def ids(nb):
    return [nbgrader_meta(c).get("grade_id") for c in nb.cells]


def answer(nb, grade_id):
    (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id]
    return cell


def pasted(cell, source=None):
    new = copy.deepcopy(cell)
    new["id"] = os.urandom(4).hex()
    if source is not None:
        new.source = source
    return new


def test_a_clean_notebook_is_left_as_it_was(solved, instructor, release_nb):
    nb, _ = solved
    before = copy.deepcopy(nb)
    assert rebuild(nb, instructor) == []
    assert ids(nb) == ids(release_nb)
    assert [c.source for c in nb.cells] == [c.source for c in before.cells]


def test_the_rebuilt_notebook_passes_nbgraders_metadata_check(solved, instructor):
    nb, cells = solved
    nb.cells.insert(3, pasted(cells["relu"]))
    nb.cells.remove(cells["test_training"])
    rebuild(nb, instructor)
    MetadataValidator().validate_nb(nb)
    nbformat.validate(nb)


def test_a_pasted_copy_of_an_answer_leaves_one_answer_cell(solved, instructor):
    nb, cells = solved
    nb.cells.insert(nb.cells.index(cells["relu"]) + 1, pasted(cells["relu"], "def relu(z):\n    return 'second'"))
    rebuild(nb, instructor)
    assert ids(nb).count("relu") == 1
    assert "second" in answer(nb, "relu").source


def test_a_copy_above_the_answer_stays_as_the_students_own_cell_before_it(solved, instructor):
    nb, cells = solved
    nb.cells.insert(nb.cells.index(cells["relu"]), pasted(cells["relu"], "def helper():\n    return 1"))
    rebuild(nb, instructor)
    index = ids(nb).index("relu")
    assert nb.cells[index - 1].source.startswith("def helper") and "nbgrader" not in nb.cells[index - 1].metadata


def test_a_copy_below_the_tests_is_dropped_and_the_answer_above_counts(solved, instructor):
    nb, cells = solved
    nb.cells.append(pasted(cells["relu"], "def relu(z):\n    return z  # scratch"))
    notes = rebuild(nb, instructor)
    assert "scratch" not in "".join(c.source for c in nb.cells)
    assert "np.maximum" in answer(nb, "relu").source or "relu" in answer(nb, "relu").source
    assert any("below them dropped" in n for n in notes)


def test_a_correct_copy_below_a_failed_test_does_not_replace_the_wrong_answer(solved, instructor, source_nb):
    nb, cells = solved
    cells["relu"].source = LEAKY_RELU
    correct = reference_answers(source_nb)["relu"]
    nb.cells.insert(nb.cells.index(cells["test_relu"]) + 1, pasted(cells["relu"], correct))
    rebuild(nb, instructor)
    assert answer(nb, "relu").source == LEAKY_RELU
    assert correct not in [c.source for c in nb.cells]


def test_with_the_tests_moved_above_every_copy_the_last_copy_counts(solved, instructor):
    nb, cells = solved
    nb.cells.remove(cells["test_relu"])
    nb.cells.insert(2, cells["test_relu"])
    nb.cells.insert(nb.cells.index(cells["relu"]) + 1, pasted(cells["relu"], "def relu(z):\n    return 'last'"))
    rebuild(nb, instructor)
    assert "last" in answer(nb, "relu").source


def test_a_duplicated_test_cell_appears_once(solved, instructor):
    nb, cells = solved
    nb.cells.insert(nb.cells.index(cells["test_softmax"]) + 1, pasted(cells["test_softmax"]))
    rebuild(nb, instructor)
    assert ids(nb).count("test_softmax") == 1


def test_deleted_test_cells_come_back_in_place_with_their_points(solved, instructor, release_nb):
    nb, cells = solved
    nb.cells.remove(cells["test_sgd_update"])
    nb.cells.remove(cells["test_training"])
    notes = rebuild(nb, instructor)
    assert ids(nb) == ids(release_nb)
    assert answer(nb, "test_training").source == cells_by_id(release_nb)["test_training"].source
    assert nbgrader_meta(answer(nb, "test_training"))["points"] == 2
    assert notes == ["deleted cells restored: test_sgd_update, test_training"]


def test_a_deleted_given_or_markdown_cell_comes_back(solved, instructor, release_nb):
    nb, cells = solved
    nb.cells.remove(cells["forward"])
    nb.cells.remove(cells["softmax_md"])
    rebuild(nb, instructor)
    assert ids(nb) == ids(release_nb)
    assert answer(nb, "softmax_md").cell_type == "markdown"


def test_a_moved_test_cell_goes_back_to_its_place(solved, instructor, release_nb):
    nb, cells = solved
    nb.cells.remove(cells["test_relu"])
    nb.cells.append(cells["test_relu"])
    notes = rebuild(nb, instructor)
    assert ids(nb) == ids(release_nb)
    assert notes == ["moved back to their place: test_relu"]


def test_the_students_own_cell_follows_the_cell_above_it(solved, instructor):
    nb, cells = solved
    nb.cells.insert(nb.cells.index(cells["backward_md"]) + 1, nbformat.v4.new_code_cell("def relu_derivative(z): ..."))
    rebuild(nb, instructor)
    index = ids(nb).index("backward_md")
    assert nb.cells[index + 1].source.startswith("def relu_derivative") and ids(nb)[index + 2] == "backward"


def test_the_students_own_cell_moves_with_a_moved_cell_above_it(solved, instructor):
    nb, cells = solved
    nb.cells.remove(cells["test_relu"])
    nb.cells.append(cells["test_relu"])
    nb.cells.append(nbformat.v4.new_code_cell("print('after my test')"))
    rebuild(nb, instructor)
    assert nb.cells[ids(nb).index("test_relu") + 1].source == "print('after my test')"


def test_a_cell_below_a_dropped_copy_follows_the_cell_above_the_copy(solved, instructor):
    nb, cells = solved
    at = nb.cells.index(cells["test_relu"]) + 1
    nb.cells[at:at] = [pasted(cells["test_relu"]), nbformat.v4.new_code_cell("x = 1")]
    rebuild(nb, instructor)
    assert nb.cells[ids(nb).index("test_relu") + 1].source == "x = 1"


def test_an_answer_marked_as_a_graded_cell_gets_its_role_back(solved, instructor):
    nb, cells = solved
    cells["relu"].metadata.nbgrader.update(grade=True, points=5)
    notes = rebuild(nb, instructor)
    meta = nbgrader_meta(answer(nb, "relu"))
    assert meta["solution"] and not meta["grade"] and "points" not in meta
    assert any("nbgrader metadata reset: relu" in n for n in notes)


def test_an_unlocked_and_edited_test_cell_is_restored(solved, instructor, release_nb):
    nb, cells = solved
    cells["test_relu"].source = "pass"
    cells["test_relu"].metadata.nbgrader.update(locked=False, points=100)
    rebuild(nb, instructor)
    cell = answer(nb, "test_relu")
    assert cell.source == cells_by_id(release_nb)["test_relu"].source
    assert nbgrader_meta(cell)["locked"] and nbgrader_meta(cell)["points"] == 2


def test_a_relabelled_cell_becomes_the_students_own_cell(solved, instructor):
    nb, cells = solved
    cells["test_relu"].metadata.nbgrader["grade_id"] = "test_relu_mine"
    cells["test_relu"].source = "pass"
    rebuild(nb, instructor)
    mine = [c for c in nb.cells if c.source == "pass"]
    assert len(mine) == 1 and "nbgrader" not in mine[0].metadata
    assert "test_relu" in ids(nb) and "test_relu_mine" not in ids(nb)


def test_a_students_cell_never_becomes_locked_or_graded(solved, instructor):
    nb, cells = solved
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.metadata.update(editable=False, deletable=False)
    nb.cells.insert(5, cell)
    rebuild(nb, instructor)
    (mine,) = [c for c in nb.cells if c.source == "x = 1"]
    assert "nbgrader" not in mine.metadata and "editable" not in mine.metadata


def test_a_deleted_answer_comes_back_empty_so_the_students_own_definition_stands(solved, instructor):
    nb, cells = solved
    index = nb.cells.index(cells["relu"])
    nb.cells[index] = nbformat.v4.new_code_cell("def relu(z):\n    return np.maximum(z, 0)")
    rebuild(nb, instructor)
    assert answer(nb, "relu").source == ""
    assert nb.cells[ids(nb).index("relu") - 1].source.startswith("def relu")


def test_a_split_answer_keeps_both_halves_in_order(solved, instructor):
    nb, cells = solved
    second = pasted(cells["backward"], "def backward(X, Y, params, cache):\n    return helper()")
    cells["backward"].source = "def helper():\n    return {}"
    nb.cells.insert(nb.cells.index(cells["backward"]) + 1, second)
    rebuild(nb, instructor)
    index = ids(nb).index("backward")
    assert nb.cells[index - 1].source.startswith("def helper") and "return helper()" in nb.cells[index].source


def test_reordered_sections_go_back_to_the_instructors_order(solved, instructor, release_nb):
    nb, cells = solved
    section = nb.cells[nb.cells.index(cells["sgd_md"]):nb.cells.index(cells["test_sgd_update"]) + 1]
    for cell in section:
        nb.cells.remove(cell)
    index = nb.cells.index(cells["backward_md"])
    nb.cells[index:index] = section
    rebuild(nb, instructor)
    assert ids(nb) == ids(release_nb)


def test_cell_ids_are_unique_after_the_rebuild(solved, instructor):
    nb, cells = solved
    nb.cells.insert(3, copy.deepcopy(cells["relu"]))  # a copy with the same id, as a text editor makes it
    nb.cells.remove(cells["test_relu"])
    rebuild(nb, instructor)
    assert len({c.id for c in nb.cells}) == len(nb.cells)


def test_install_puts_the_rebuild_before_nbgraders_deduplicateids_and_overwritecells():
    from nbgrader.preprocessors import DeduplicateIds, OverwriteCells
    c = Config()
    install(c)
    sanitize = c.Autograde.sanitize_preprocessors
    assert sanitize.index(RebuildFromSource) < sanitize.index(DeduplicateIds) < sanitize.index(OverwriteCells)


def test_the_course_config_switches_nbgraders_own_repair_off():
    from support.course import REPO
    assert "c.OverwriteCells.add_missing_cells = False" in (REPO / "nbgrader_config.py").read_text()


def write(folder, name, nb, mtime):
    path = folder / name
    nbformat.write(nb, path)
    os.utime(path, (mtime, mtime))


def test_the_notebook_with_the_most_grade_ids_stands_in(tmp_path, solved, release_nb):
    nb, _ = solved
    write(tmp_path, "backprop (1).ipynb", nb, 1000)
    write(tmp_path, "Untitled.ipynb", nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), 2000)
    assert stand_in(tmp_path, cells_by_id(release_nb)) == "backprop (1).ipynb"


def test_on_a_tie_the_newest_notebook_stands_in(tmp_path, solved, release_nb):
    nb, _ = solved
    write(tmp_path, "backprop (1).ipynb", nb, 2000)
    write(tmp_path, "backprop (2).ipynb", release_nb, 1000)
    assert stand_in(tmp_path, cells_by_id(release_nb)) == "backprop (1).ipynb"


def test_a_lone_notebook_without_grade_ids_stands_in_but_not_one_of_several(tmp_path, release_nb):
    empty = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def relu(z): ...")])
    write(tmp_path, "mine.ipynb", empty, 1000)
    assert stand_in(tmp_path, cells_by_id(release_nb)) == "mine.ipynb"
    write(tmp_path, "other.ipynb", empty, 2000)
    assert stand_in(tmp_path, cells_by_id(release_nb)) is None


def test_a_folder_without_notebooks_has_no_stand_in(tmp_path):
    (tmp_path / "notes.txt").write_text("sorry")
    (tmp_path / "broken.txt").write_text("{")
    assert stand_in(tmp_path, {"relu"}) is None


def test_nbgrader_reads_a_staged_copy_with_the_expected_name_and_submitted_is_untouched(tmp_path, release_nb):
    folder = tmp_path / "submitted" / "alice" / "backprop"
    folder.mkdir(parents=True)
    nbformat.write(release_nb, folder / "backprop (1).ipynb")
    (folder / "timestamp.txt").write_text("2026-01-01 10:00:00")
    before = sorted(p.name for p in folder.iterdir())
    api = SimpleNamespace(coursedir=CourseDirectory(root=str(tmp_path)))
    task = Task("autograde", "backprop", "alice", str(tmp_path / "log"), (("backprop", "backprop (1).ipynb"),))
    with staged(api, task):
        seen = api.coursedir.format_path(api.coursedir.submitted_directory, "alice", "backprop")
        assert sorted(os.listdir(seen)) == ["backprop.ipynb", "timestamp.txt"]
    assert api.coursedir.submitted_directory == "submitted"
    assert sorted(p.name for p in folder.iterdir()) == before
    assert not os.path.exists(seen)


def test_the_reason_summarises_the_repairs_from_nbgraders_log():
    log = (f"[AutogradeApp | WARNING] {REPAIRED} backprop: deleted cells restored: test_training\n"
           f"[AutogradeApp | INFO] Executing\n[AutogradeApp | WARNING] {REPAIRED} backprop: test_relu in 2 cells: "
           "the copies dropped\n")
    assert repair_reason(log) == ("notebook repaired: deleted cells restored: test_training; test_relu in 2 cells: "
                                  "the copies dropped")
    assert repair_reason("[AutogradeApp | INFO] nothing to see") is None


def test_hidden_tests_in_the_instructors_copy_are_not_taken_for_an_edit(solved, source_nb):
    nb, _ = solved
    assert rebuild(nb, notebook_cells(source_nb)) == []


def test_nbgrader_metadata_that_is_not_a_dict_makes_a_plain_cell(solved, instructor):
    nb, _ = solved
    cell = nbformat.v4.new_code_cell("y = 2")
    cell.metadata["nbgrader"] = "broken"
    nb.cells.insert(5, cell)
    rebuild(nb, instructor)
    (mine,) = [c for c in nb.cells if c.source == "y = 2"]
    assert "nbgrader" not in mine.metadata
