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
    cells = run(student, SETUP + "import scipy\n", FORWARD)
    assert cells[1] == FORWARD and {"import numpy as np", "import scipy"} <= set(kept_lines(cells)), \
        "forward is kept, and imports of packages that are not droppable (numpy, scipy) always are"


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


def test_a_package_the_submission_imports_itself_keeps_its_given_imports():
    student = "def relu(z):\n    import sklearn\n    return sklearn.datasets.make_moons\n"
    assert "from sklearn.datasets import make_moons" in kept_lines(run(student, SETUP)), \
        "the given import makes sklearn.datasets an attribute of the student's sklearn"


def test_a_statement_filling_an_object_an_answer_reads_is_kept():
    data = "DATA = {}\nDATA['X'], DATA['y'] = make_moons(n_samples=5, random_state=0)\n"
    student = "def relu(z):\n    return np.maximum(0, z) + 0 * len(DATA['X'])\n"
    assert run(student, SETUP, data)[1] == data


def test_a_method_call_on_an_object_an_answer_reads_is_kept():
    data = "DATA = {}\nDATA.update(zip('Xy', make_moons(n_samples=5, random_state=0)))\n"
    student = "def relu(z):\n    return np.maximum(0, z) + 0 * len(DATA['X'])\n"
    assert run(student, SETUP, data)[1] == data


def test_a_dotted_import_that_sets_up_a_package_an_answer_reads_is_kept():
    given_cell = "import matplotlib\nimport matplotlib.pyplot as plt\nCMAP = matplotlib.pyplot.get_cmap\n"
    assert run("def relu(z):\n    return CMAP\n", given_cell)[0] == given_cell


def test_a_global_imported_inside_a_given_function_is_bound_by_it():
    setter = "def setup():\n    global DRAW\n    from matplotlib.pyplot import plot as DRAW\nsetup()\n"
    assert run("def relu(z):\n    return DRAW\n", SETUP, setter)[1] == setter


def test_a_future_import_is_never_dropped():
    future = "from __future__ import annotations\nimport matplotlib.pyplot as plt\ndef forward(X: Params): pass\n"
    assert kept_lines(run(RELU, future))[0] == "from __future__ import annotations"


def test_a_class_body_reading_a_global_it_assigns_reaches_it():
    student = ("class Ops:\n    np = np\n    def relu(self, z):\n        return self.np.maximum(0, z)\n"
               "relu = Ops().relu\n")
    assert "import numpy as np" in kept_lines(run(student, "import numpy as np\nimport matplotlib.pyplot as plt\n"))


def test_a_string_left_first_in_a_pruned_cell_does_not_become_its_docstring():
    given_cell = "import matplotlib.pyplot as plt\n'not the doc'\n"
    namespace = {}
    exec(run(RELU, given_cell)[0], namespace)
    assert namespace.get("__doc__") is None


def test_dynamic_lookups_in_a_given_cell_keep_every_given_cell():
    dynamic = "for name, value in zip(['X_demo'], make_moons()):\n    globals()[name] = value\n"
    student = "def relu(z):\n    return X_demo\n"
    assert run(student, SETUP, dynamic) == [SETUP, dynamic, student]


@pytest.mark.parametrize("word", ["vars()", "locals()", "dir()", "exec('x')", "eval('x')", "compile('x', '', 'exec')",
                                  "f.__globals__", "frame.f_globals", "frame.f_back", "sys._getframe()",
                                  "inspect.stack()", "e.__traceback__.tb_frame", "get_ipython().user_ns",
                                  "sys.modules", "importlib.import_module('__main__')", "gc.get_objects()",
                                  "builtins.globals()", "pickle.loads(b'')"])
def test_each_dynamic_lookup_keeps_every_given_cell(word):
    student = f"def relu(z):\n    return {word}\n"
    assert run(student, SETUP, DATA) == [SETUP, DATA, student]


@pytest.mark.parametrize("student", [["def relu(z):\n", "    return z\n"], None, b"def relu(z): return z\n"])
def test_a_source_that_is_not_text_keeps_every_cell_as_it_came(student):
    cells = [(SETUP, True), (student, False)]
    assert worker_cells(cells) == [SETUP, student]


def test_code_too_deep_to_analyse_keeps_every_given_cell():
    student = "def relu(z):\n    return " + "(" * 1000 + "z" + ")" * 1000 + "\n"
    assert run(student, SETUP) == [SETUP, student]


def test_a_submission_too_long_to_analyse_keeps_every_given_cell():
    student = RELU + "x = 0\n" * 50_000
    assert run(student, SETUP) == [SETUP, student]


def test_a_warning_of_the_submissions_code_is_not_shown_by_the_grader(recwarn):
    run("def relu(z):\n    return z if z is not 1 else 0\n", SETUP)
    assert not recwarn.list


def test_only_the_configured_packages_are_droppable():
    assert kept_lines(worker_cells([(SETUP, True), (RELU, False)], droppable=("sklearn",)))[1] == \
        "import matplotlib.pyplot as plt"


def test_a_call_of_a_given_function_that_changes_a_global_is_kept():
    given_cell = ("HYPER = dict(lr=0.1, reg=0.0)\ndef set_hyper(**kw):\n    HYPER.update(kw)\n"
                  "X, y = make_moons(n_samples=20, random_state=0)\nset_hyper(reg=1.0 / len(X))\n")
    student = "def sgd_update(params, grads):\n    return HYPER['reg']\n"
    assert run(student, SETUP, given_cell)[1] == given_cell


def test_an_assignment_through_a_function_that_sets_globals_is_kept():
    given_cell = ("def standardize(X):\n    global MU\n    MU = X.mean()\n    return X - MU\n"
                  "X_raw, y = make_moons(n_samples=20, random_state=0)\nX = standardize(X_raw)\n")
    assert run("def relu(z):\n    return z - MU\n", SETUP, given_cell)[1] == given_cell


def test_a_change_through_a_second_name_is_kept():
    given_cell = ("params = {'W1': np.ones((2, 2))}\nX, y = make_moons(n_samples=20, random_state=0)\n"
                  "W1 = params['W1']\nW1 *= X.std()\n")
    assert run("def forward(x):\n    return x @ params['W1']\n", SETUP, given_cell)[1] == given_cell


UNSEEDED_DRAW = "X, y = make_moons(n_samples=20)\n"
PERMUTATION = "X, y = make_moons(n_samples=20, random_state=0)\nidx = np.random.permutation(len(X))\n"


@pytest.mark.parametrize("draw", [UNSEEDED_DRAW, PERMUTATION])
def test_a_dropped_draw_from_numpys_global_generator_is_kept(draw):
    init = "W_INIT = np.random.randn(2, 4)\n"
    cells = run("def init_params():\n    return W_INIT.copy()\n", SETUP + "np.random.seed(0)\n", draw, init)
    assert cells[1] == draw, "the draw changes every later draw of the global generator"


def test_a_dropped_statement_that_writes_a_file_is_kept():
    given_cell = "X, y = make_moons(n_samples=20, random_state=0)\nnp.save('data.npy', X)\n"
    assert run("def relu(z):\n    return np.load('data.npy')\n", SETUP, given_cell)[1] == given_cell


def test_a_builtin_the_notebook_rebinds_is_not_taken_as_pure():
    given_cell = "X, y = make_moons(n_samples=20, random_state=0)\nprint(X)\n"
    student = "LOG = []\ndef print(*args):\n    LOG.append(args)\ndef relu(z):\n    return len(LOG)\n"
    assert run(student, SETUP, given_cell)[1] == given_cell


def test_plotting_calls_on_dropped_values_are_still_dropped():
    plots = "fig, ax = plt.subplots()\nax.plot([0, 1])\nax.set_title('loss')\nplt.close(fig)\n"
    assert run(RELU, SETUP, plots)[1] == ""
