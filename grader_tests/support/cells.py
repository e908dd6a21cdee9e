"""The cells of the repo's assignment (backprop) that tests name: one list of each, in notebook order; and
nbgrader cells for the tests' own notebooks."""
import nbformat

from coursekit.course.notebooks import nbgrader_meta

# The solution cells: the four functions students write.
FUNCTIONS = ("relu", "softmax", "backward", "sgd_update")

# The test cells of each function, in notebook order; test_training runs all four.
CELLS_OF = {
    "relu": ("test_relu",),
    "softmax": ("test_softmax", "test_softmax_stable"),
    "backward": ("test_backward_output_layer", "test_backward_hidden_layer", "test_backward_leaves_inputs_unchanged"),
    "sgd_update": ("test_sgd_update",),
}
TRAINING = "test_training"
TEST_CELLS = tuple(cell for cells in CELLS_OF.values() for cell in cells) + (TRAINING,)

# The given cells the test cells use besides the answers (imports, data, initial parameters, forward, training).
GIVEN_CELLS = ("setup", "data", "init_params", "forward", "train")


def nbgrader_cell(kind, grade_id, source, solution=False, points=None):
    """A cell with the metadata nbgrader's Create Assignment toolbar writes: kind "code" or "markdown"; a
    solution cell when solution, a graded (test) cell when points is given, else a locked given cell."""
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    meta = {"grade": points is not None, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return make(source, metadata={"nbgrader": meta})


def cells_in_order(nb):
    """grade_ids of every nbgrader cell of nb that has one (given, solution and test cells), in notebook order."""
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c).get("grade_id")]
