"""A catalogue of messy notebooks: what honest students do to a notebook, and the same mess with a wrong answer.

Every entry starts from the release with the reference answers (``reference``), then does one thing real
students do: copy, paste, delete, move or split cells, add their own cells, download the notebook twice. The
honest entries (``loses`` empty) must get full marks. The wrong ones carry a wrong answer as well and must
lose exactly what the same wrong answer loses in a clean notebook (``loses``): the mess never helps.

``build(release_nb, reference)`` returns the submission folder's files, name -> notebook (or text), in the
order they are written; ``write_submission`` gives each later file a newer modification time.
"""
import base64
import copy
import io
import json
import os
from dataclasses import dataclass, field

import nbformat

from coursekit.course.notebooks import build_submission, cells_by_id
from support.answers import BACKWARD_WITHOUT_RELU_MASK, NO_MASK_LOSES

NOTEBOOK = "backprop.ipynb"
TWICE = "backprop (1).ipynb"

LEAKY_RELU = '''
def relu(z):
    return np.where(z > 0, z, 0.01 * z)
'''
LEAKY_LOSES = {"test_relu", "test_training"}  # a leaky relu fails its test and trains worse (hostile catalogue)

# an answer split across two cells and a helper of the student's own
BACKWARD_FIRST_HALF = '''
def output_layer_grads(cache, Y, W2):
    grad_logits = (cache["probs"] - Y) / len(Y)
    return grad_logits, cache["a1"].T @ grad_logits, grad_logits.sum(axis=0)
'''
BACKWARD_SECOND_HALF = '''
def backward(X, Y, params, cache):
    grad_logits, grad_W2, grad_B2 = output_layer_grads(cache, Y, params["W2"])
    grad_z1 = (grad_logits @ params["W2"].T) * relu_derivative(cache["z1"])
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0), "W2": grad_W2, "B2": grad_B2}
'''
RELU_DERIVATIVE = '''
def relu_derivative(z):
    """1 where the ReLU passes its input on, 0 elsewhere."""
    return (z > 0).astype(float)
'''
BACKWARD_WITH_HELPER = '''
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * relu_derivative(cache["z1"])
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
'''
RELU_DRAFT = '''
def relu(z):
    # first try, kept while I worked on the second one below
    return z
'''


@dataclass(frozen=True)
class Messy:
    """One messy submission: name, what the student did, how it is built, the test cells it must lose."""
    name: str
    what: str
    build: object
    loses: frozenset = field(default_factory=frozenset)
    renamed: str = None  # the file graded as backprop.ipynb, when the notebook has another name

    @property
    def honest(self):
        return not self.loses


def solved(release_nb, reference, **answers):
    """The release with the reference answers (some replaced by answers), and its cells by grade_id."""
    nb = build_submission(release_nb, {**reference, **answers})
    return nb, cells_by_id(nb)


def at(nb, cell):
    return next(i for i, c in enumerate(nb.cells) if c is cell)


def new_cell(source, markdown=False):
    return nbformat.v4.new_markdown_cell(source) if markdown else nbformat.v4.new_code_cell(source.strip("\n"))


def copied(cell, source=None):
    """A copy-paste of the cell (same nbgrader metadata, JupyterLab gives it a new id)."""
    new = copy.deepcopy(cell)
    new["id"] = os.urandom(4).hex()
    if source is not None:
        new.source = source.strip("\n")
    return new


def edit(make, **answers):
    """A build: the reference solution (with answers) after make(nb, cells) changed it in place."""
    def build(release_nb, reference):
        nb, cells = solved(release_nb, reference, **answers)
        make(nb, cells)
        return {NOTEBOOK: nb}
    return build


def duplicate(grade_id, source=None, below=None):
    """Paste a copy of the cell right below it (or below the cell named below)."""
    def make(nb, cells):
        nb.cells.insert(at(nb, cells[below or grade_id]) + 1, copied(cells[grade_id], source))
    return make


def delete(*grade_ids):
    def make(nb, cells):
        for grade_id in grade_ids:
            nb.cells.remove(cells[grade_id])
    return make


def move(grade_id, above=None, to_end=False):
    def make(nb, cells):
        nb.cells.remove(cells[grade_id])
        nb.cells.insert(len(nb.cells) if to_end else at(nb, cells[above]), cells[grade_id])
    return make


def move_section(first, last, above):
    """Move the cells from first to last (grade_ids, inclusive) above the cell named above."""
    def make(nb, cells):
        section = nb.cells[at(nb, cells[first]):at(nb, cells[last]) + 1]
        for cell in section:
            nb.cells.remove(cell)
        index = at(nb, cells[above])
        nb.cells[index:index] = section
    return make


def insert(source, after, markdown=False):
    def make(nb, cells):
        nb.cells.insert(at(nb, cells[after]) + 1, new_cell(source, markdown))
    return make


def split_backward(nb, cells):
    """JupyterLab's split cell: both halves keep the cell's nbgrader metadata."""
    first = cells["backward"]
    second = copied(first, BACKWARD_SECOND_HALF)
    first.source = (RELU_DERIVATIVE + BACKWARD_FIRST_HALF).strip("\n")
    nb.cells.insert(at(nb, first) + 1, second)


def answer_in_own_cell(nb, cells):
    """The student deleted the relu answer cell and wrote relu in a fresh cell of their own."""
    code = cells["relu"].source
    index = at(nb, cells["relu"])
    nb.cells[index] = new_cell(code)


def draft_then_answer(nb, cells):
    """A copy of the relu cell above the answer holds a first draft; the answer below it counts."""
    nb.cells.insert(at(nb, cells["relu"]), copied(cells["relu"], RELU_DRAFT))


def scratch_copy_at_end(nb, cells):
    """After finishing, the student pasted a copy of the relu cell at the end to try something."""
    nb.cells.append(copied(cells["relu"], RELU_DRAFT))


def correct_copy_below_test(release_nb, reference):
    """A leaky relu, its test (which failed), then a correct copy of the relu cell below the test."""
    nb, cells = solved(release_nb, reference, relu=LEAKY_RELU)
    nb.cells.insert(at(nb, cells["test_relu"]) + 1, copied(cells["relu"], reference["relu"]))
    return {NOTEBOOK: nb}


def empty_cells(nb, cells):
    insert("", after="test_relu")(nb, cells)
    insert("", after="softmax_md", markdown=True)(nb, cells)


def tamper_points(nb, cells):
    """The relu answer cell marked as a graded cell worth 5 points."""
    cells["relu"].metadata.nbgrader.update(grade=True, points=5)


def renamed(name=TWICE, **answers):
    def build(release_nb, reference):
        nb, _ = solved(release_nb, reference, **answers)
        return {name: nb}
    return build


def two_notebooks(release_nb, reference):
    """An untouched copy downloaded first, the solved one later: both carry every grade_id, the newer counts."""
    nb, _ = solved(release_nb, reference)
    return {"backprop-untouched.ipynb": copy.deepcopy(release_nb), TWICE: nb}


def solved_and_scratch(release_nb, reference):
    """The solved notebook under another name and a newer scratch notebook: the one with the grade_ids counts."""
    nb, _ = solved(release_nb, reference)
    scratch = nbformat.v4.new_notebook(cells=[new_cell("import numpy as np\nnp.maximum(0, -1)")])
    return {TWICE: nb, "Untitled.ipynb": scratch}


def colab_and_crlf(release_nb, reference):
    """Saved by Colab on Windows: its metadata on the notebook and cells, CRLF line endings in the file and in the
    answers' sources, and Jupyter's checkpoint folder (an untouched copy) next to it."""
    nb, cells = solved(release_nb, reference)
    nb.metadata["colab"] = {"provenance": [], "name": "backprop.ipynb"}
    nb.metadata["accelerator"] = "GPU"
    for grade_id in ("relu", "softmax", "backward", "sgd_update"):
        cells[grade_id].metadata["colab"] = {"base_uri": "https://localhost:8080/"}
        cells[grade_id].source = cells[grade_id].source.replace("\n", "\r\n")
    return {NOTEBOOK: nbformat.writes(nb).replace("\n", "\r\n"),
            ".ipynb_checkpoints/backprop-checkpoint.ipynb": copy.deepcopy(release_nb)}


def old_minor(minor=2, **answers):
    """Saved by an older Jupyter: nbformat 4.<minor>, written as that version's JSON (no cell ids, which came in
    4.5), the way an old notebook server or a course's old template leaves it."""
    def build(release_nb, reference):
        nb, _ = solved(release_nb, reference, **answers)
        data = json.loads(nbformat.writes(nb))
        data["nbformat_minor"] = minor
        for cell in data["cells"]:
            cell.pop("id", None)
        nbformat.validate(data, version=4, version_minor=minor)
        return {NOTEBOOK: json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"}
    return build


def figure_png():
    """A small PNG the way matplotlib's inline backend saves one into a notebook."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(3, 2), dpi=50)
    axes.plot([0, 1, 2, 3], [0.7, 0.3, 0.2, 0.1])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def with_outputs(**answers):
    """Saved after running it: execution counts, stream text, an execute_result, images (display_data with
    image/png and text/plain) and an error from a first try, in the answer, given and test cells, and a cell of the
    student's own with a plot."""
    def build(release_nb, reference):
        nb, cells = solved(release_nb, reference, **answers)
        png = figure_png()
        count = 0
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            count += 1
            cell.execution_count = count
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"ran {grade_id}\n")]
            if grade_id.startswith("test_"):
                cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text="a warning\n"))
            if grade_id in ("plots", "run_training", "try_learning_rate"):
                cell.outputs.append(nbformat.v4.new_output(
                    "display_data", data={"image/png": png, "text/plain": "<Figure size 150x100 with 1 Axes>"},
                    metadata={"needs_background": "light"}))
            if grade_id == "relu":
                cell.outputs.append(nbformat.v4.new_output(
                    "execute_result", data={"text/plain": "array([0. , 0.5])"}, execution_count=count))
            if grade_id == "softmax":
                cell.outputs.append(nbformat.v4.new_output(
                    "error", ename="NameError", evalue="name 'np' is not defined",
                    traceback=["NameError: name 'np' is not defined"]))
        nb.cells.insert(at(nb, cells["try_learning_rate"]) + 1, nbformat.v4.new_code_cell(
            "plt.plot(losses)", execution_count=count + 1, outputs=[nbformat.v4.new_output(
                "display_data", data={"image/png": png, "text/plain": "<Figure size 150x100 with 1 Axes>"})]))
        return {NOTEBOOK: nb}
    return build


HONEST = [
    Messy("duplicated-answer", "pasted a copy of the relu answer cell right below it",
          edit(duplicate("relu"))),
    Messy("draft-above-answer", "a copy of the relu cell with a first draft above the answer",
          edit(draft_then_answer)),
    Messy("scratch-copy-at-end", "a copy of the relu cell with a draft pasted at the end, below every test",
          edit(scratch_copy_at_end)),
    Messy("duplicated-test", "pasted a copy of test_softmax right below it", edit(duplicate("test_softmax"))),
    Messy("two-tests-deleted", "deleted test_sgd_update and test_training",
          edit(delete("test_sgd_update", "test_training"))),
    Messy("given-cell-deleted", "deleted the given forward cell", edit(delete("forward"))),
    Messy("test-moved-up", "moved test_softmax above the softmax answer",
          edit(move("test_softmax", above="softmax"))),
    Messy("test-moved-to-end", "moved test_backward_output_layer to the end",
          edit(move("test_backward_output_layer", to_end=True))),
    Messy("sections-reordered", "moved the SGD section above the backward section",
          edit(move_section("sgd_md", "test_sgd_update", above="backward_md"))),
    Messy("helper-cell", "a cell of the student's own defines relu_derivative, which backward uses",
          edit(insert(RELU_DERIVATIVE, after="backward_md"), backward=BACKWARD_WITH_HELPER)),
    Messy("answer-split", "split the backward cell in two: helpers, then backward (both keep the metadata)",
          edit(split_backward)),
    Messy("answer-in-own-cell", "deleted the relu answer cell and wrote relu in a new cell",
          edit(answer_in_own_cell)),
    Messy("empty-cells", "an empty code cell and an empty markdown cell",
          edit(empty_cells)),
    Messy("markdown-deleted", "deleted the softmax section's text", edit(delete("softmax_md"))),
    Messy("downloaded-twice", "submitted the notebook as 'backprop (1).ipynb'", renamed(), renamed=TWICE),
    Messy("two-notebooks", "an untouched 'backprop-untouched.ipynb' and the newer, solved 'backprop (1).ipynb'",
          two_notebooks, renamed=TWICE),
    Messy("solved-and-scratch", "the solved 'backprop (1).ipynb' and a newer scratch 'Untitled.ipynb'",
          solved_and_scratch, renamed=TWICE),
    Messy("colab-crlf-checkpoints", "Colab metadata, CRLF line endings, a .ipynb_checkpoints/ folder",
          colab_and_crlf),
    Messy("old-nbformat-minor", "saved as nbformat 4.2 by an older Jupyter (no cell ids)", old_minor(2)),
    Messy("saved-outputs-and-images", "saved with its outputs: execution counts, printed text, images, an error "
          "from a first try, and a cell of its own with a plot", with_outputs()),
]

WRONG = [
    Messy("wrong-duplicated-test", "a leaky relu, and test_relu pasted twice",
          edit(duplicate("test_relu"), relu=LEAKY_RELU), frozenset(LEAKY_LOSES)),
    Messy("wrong-tests-deleted", "a backward without the ReLU mask, and the two test cells it fails deleted",
          edit(delete("test_backward_hidden_layer", "test_training"), backward=BACKWARD_WITHOUT_RELU_MASK),
          frozenset(NO_MASK_LOSES)),
    Messy("wrong-correct-copy-below-test", "a leaky relu, test_relu, then a correct copy of the relu cell below",
          correct_copy_below_test, frozenset(LEAKY_LOSES)),
    Messy("wrong-test-moved", "a leaky relu, and test_relu moved to the end",
          edit(move("test_relu", to_end=True), relu=LEAKY_RELU), frozenset(LEAKY_LOSES)),
    Messy("wrong-points-tampered", "a leaky relu whose answer cell claims to be a test cell worth 5 points",
          edit(tamper_points, relu=LEAKY_RELU), frozenset(LEAKY_LOSES)),
    Messy("wrong-downloaded-twice", "a backward without the ReLU mask, submitted as 'backprop (1).ipynb'",
          renamed(backward=BACKWARD_WITHOUT_RELU_MASK), frozenset(NO_MASK_LOSES), renamed=TWICE),
    Messy("wrong-old-nbformat-minor", "a leaky relu, saved as nbformat 4.2", old_minor(2, relu=LEAKY_RELU),
          frozenset(LEAKY_LOSES)),
    Messy("wrong-saved-outputs", "a backward without the ReLU mask, saved with outputs and images",
          with_outputs(backward=BACKWARD_WITHOUT_RELU_MASK), frozenset(NO_MASK_LOSES)),
]

MESSY = HONEST + WRONG


def write_submission(folder, files, start=1_700_000_000):
    """Write the files into folder; each file is one minute newer than the one before."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, content) in enumerate(files.items()):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            nbformat.write(content, path)
        os.utime(path, (start + 60 * i, start + 60 * i))
