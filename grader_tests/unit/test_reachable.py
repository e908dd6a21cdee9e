"""The referee's worker runs the submission's cells whole and, of the given cells, all but what the submission
cannot reach (coursekit/sandbox/reachable.py)."""
import pytest

from coursekit.preprocessors.referee import given
from coursekit.sandbox.reachable import worker_cells

SETUP = ("import numpy as np\nimport matplotlib.pyplot as plt\nfrom sklearn.datasets import make_moons\n"
         "from backprop_checks import check_relu\n")
DATA = "X, y = make_moons(n_samples=10, random_state=0)\nY = np.eye(2)[y]\nprint(X.shape)\n"
SEED = "np.random.seed(0)\n"
FORWARD = "def forward(X, params):\n    return relu(X @ params['W1'])\n"
RELU = "def relu(z):\n    return np.maximum(0, z)\n"
BACKWARD = "def backward(X, Y, params, cache):\n    return {'W1': X.T @ (cache['probs'] - Y)}\n"


def run(student, *given_cells, helpers=("backprop_checks",)):
    """worker_cells of the given cells (in order), then the student's cell."""
    return worker_cells([*((source, True) for source in given_cells), (student, False)], helpers)


def kept_lines(cells):
    return [line for cell in cells for line in cell.splitlines()]


def test_imports_no_answer_uses_are_dropped():
    lines = kept_lines(run(RELU, SETUP))
    assert "import matplotlib.pyplot as plt" not in lines and "from sklearn.datasets import make_moons" not in lines


def test_the_import_an_answer_uses_is_kept():
    assert "import numpy as np" in kept_lines(run(RELU, SETUP))


def test_the_instructors_helper_module_is_always_imported():
    assert "from backprop_checks import check_relu" in kept_lines(run(RELU, SETUP))


def test_statements_that_need_a_dropped_import_are_dropped():
    assert run(RELU, SETUP, DATA)[1] == "", "the data cell only builds data from make_moons"


def test_a_parameter_named_like_a_global_does_not_keep_the_global():
    assert run(BACKWARD, SETUP, DATA)[1] == "", "backward's X and Y are its parameters, not the data cell's"


def test_a_global_an_answer_reads_keeps_what_builds_it():
    student = "def backward(X, Y, params, cache):\n    return X_seen.sum() + X\n"
    cells = run(student, SETUP, DATA + "X_seen = X\n")
    assert "from sklearn.datasets import make_moons" in kept_lines(cells) and cells[1].startswith("X, y = make_moons")


def test_a_statement_that_binds_nothing_runs_when_what_it_uses_runs():
    assert run(RELU, SETUP, SEED)[1] == SEED


def test_given_cells_that_lose_nothing_are_unchanged():
    assert run(RELU, SETUP, FORWARD)[1] == FORWARD


def test_the_submissions_cells_stay_whole():
    student = "import matplotlib.pyplot as plt\n" + RELU
    assert run(student, SETUP)[-1] == student


def test_a_function_an_answer_calls_keeps_its_globals():
    student = "def backward(X, Y, params, cache):\n    return forward(X, params)\n"
    cells = run(student, SETUP, FORWARD)
    assert cells[1] == FORWARD and "import numpy as np" not in kept_lines(cells), \
        "forward is kept; numpy only if something reachable names np"


@pytest.mark.parametrize("student", [
    "def relu(z):\n    return globals()['np'].maximum(0, z)\n",
    "def relu(z):\n    return eval('np').maximum(0, z)\n",
    "import __main__\ndef relu(z):\n    return __main__.np.maximum(0, z)\n",
    "def relu(z):\n    return relu.__globals__['np'].maximum(0, z)\n",
    "def relu(z):\n    import sys\n    return sys.modules['__main__'].np.maximum(0, z)\n",
    "%matplotlib inline\n" + RELU,
    "def relu(z):\n    return np.maximum(0, z)\nreturn 1\n",
])
def test_code_that_can_reach_the_namespace_without_naming_it_keeps_every_given_cell(student):
    cells = [(SETUP, True), (DATA, True), (student, False)]
    assert worker_cells(cells, ()) == [SETUP, DATA, student]


def test_a_star_import_keeps_every_given_cell():
    star = "from numpy import *\n"
    assert run(RELU, SETUP, star) == [SETUP, star, RELU]


def test_a_given_cell_that_is_not_plain_python_keeps_every_given_cell():
    magic = "%matplotlib inline\n"
    assert run(RELU, SETUP, magic) == [SETUP, magic, RELU]


def test_a_function_declaring_a_global_binds_it():
    student = "def relu(z):\n    return np.maximum(0, z) + OFFSET\n"
    setter = "def set_offset():\n    global OFFSET\n    OFFSET = make_moons\nset_offset()\n"
    cells = run(student, SETUP, setter)
    assert "from sklearn.datasets import make_moons" in kept_lines(cells)


def test_the_pruned_cells_define_the_answers_as_the_whole_cells_do():
    student = "def relu(z):\n    return np.maximum(0, z) * SCALE\n"
    whole = [SETUP.replace("from backprop_checks import check_relu\n", ""), "SCALE = 2.0\n" + SEED, student]
    pruned = worker_cells([(whole[0], True), (whole[1], True), (student, False)], ())
    namespaces = [{}, {}]
    for cells, namespace in zip([whole, pruned], namespaces):
        for source in cells:
            exec(source, namespace)
    assert namespaces[0]["relu"](-1.5 + namespaces[0]["np"].arange(3)).tolist() == \
        namespaces[1]["relu"](-1.5 + namespaces[1]["np"].arange(3)).tolist()
    assert "plt" not in namespaces[1] and "make_moons" not in namespaces[1]


def test_only_the_instructors_locked_cells_count_as_given():
    def cell(**meta):
        return {"cell_type": "code", "source": "", "metadata": {"nbgrader": meta}}
    assert given(cell(grade_id="setup", locked=True))
    assert not given(cell(grade_id="relu", solution=True, locked=False))
    assert not given(cell(grade_id="test_relu", grade=True, locked=True))
    assert not given(cell(locked=True)), "a student's cell with forged metadata has no grade_id after OverwriteCells"
