"""Every answer of the catalogue (right, wrong and look-alike) behaves the same in the referee's worker whether
the worker runs the given cells whole or pruned (coursekit/sandbox/reachable.py). Each side runs in a fresh
Python process, as a worker does, so an import one side made cannot help the other."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from catalogue import all_entries
from catalogue.builder import submission
from coursekit.course.notebooks import reference_answers
from coursekit.preprocessors.referee import worker_sources
from coursekit.sandbox.reachable import worker_cells

REPO = Path(__file__).resolve().parents[1]
SKIP_CELLS = ["plots", "run_training", "try_by_hand", "try_learning_rate"]
RUNNER = r'''
import json, os, re, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
protocol, sys.stdout = sys.stdout, open(os.devnull, "w")  # what the cells print is not the answer
rng = np.random.default_rng(0)
X = rng.normal(size=(6, 2)); Y = np.eye(2)[rng.integers(0, 2, 6)]
params = {"W1": rng.normal(size=(2, 4)), "B1": rng.normal(size=4),
          "W2": rng.normal(size=(4, 2)), "B2": rng.normal(size=2)}
z1 = X @ params["W1"] + params["B1"]; a1 = np.maximum(z1, 0); logits = a1 @ params["W2"] + params["B2"]
probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
cache = {"z1": z1, "a1": a1, "logits": logits, "probs": probs}
def copy(d):
    return {k: v.copy() for k, v in d.items()}

calls = {"relu": lambda f: f(z1.copy()), "softmax": lambda f: f(logits.copy()),
         "backward": lambda f: f(X, Y, copy(params), copy(cache)),
         "sgd_update": lambda f: f(copy(params), {k: v * 0 + 1 for k, v in params.items()}, 0.1)}

def plain(value):
    if isinstance(value, np.ndarray):
        return np.round(value.astype(float), 10).tolist()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))  # an object's address differs from run to run

results = []
for cells in json.load(sys.stdin):
    namespace = {"__name__": "__main__"}
    for source in cells:
        try:
            exec(compile(source, "<cell>", "exec"), namespace)
        except BaseException:  # a failing cell is skipped, as in the worker
            pass
    outcome = {}
    for name, call in calls.items():
        try:
            outcome[name] = plain(call(namespace[name]))
        except BaseException as error:
            outcome[name] = f"raised {type(error).__name__}"
    results.append(outcome)
json.dump(results, protocol)
'''


def run_workers(cell_lists, cwd):
    """What each list of cells' answer functions return on fixed inputs, run in one fresh Python process."""
    process = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(cell_lists), capture_output=True,
                             text=True, cwd=cwd, timeout=600)
    assert process.returncode == 0, process.stderr[-2000:]
    return json.loads(process.stdout)


@pytest.fixture(scope="module")
def both_ways(release_nb, source_nb):
    """name -> (outcome with the whole given cells, outcome with the pruned ones) for every catalogue entry."""
    reference = reference_answers(source_nb)
    entries = all_entries()
    sources = [worker_sources(submission(entry, release_nb, reference).cells, SKIP_CELLS) for entry in entries]
    helpers = REPO / "source" / "backprop"  # the worker's folder holds the instructor's helper module
    pruned = run_workers([worker_cells(cells, {"backprop_checks"}) for cells in sources], helpers)
    whole = run_workers([[source for source, _ in cells] for cells in sources], helpers)
    return {entry.name: (w, p) for entry, w, p in zip(entries, whole, pruned)}


def test_the_lessons_worker_imports_neither_matplotlib_nor_sklearn(release_nb, source_nb):
    cells = worker_sources(submission(all_entries()[0], release_nb, reference_answers(source_nb)).cells, SKIP_CELLS)
    pruned = "\n".join(worker_cells(cells, {"backprop_checks"}))
    assert "matplotlib" not in pruned and "sklearn" not in pruned and "import numpy as np" in pruned


@pytest.mark.parametrize("name", [entry.name for entry in all_entries()])
def test_every_answer_behaves_the_same_with_the_pruned_given_cells(name, both_ways):
    whole, pruned = both_ways[name]
    assert pruned == whole, f"{name}: the pruned worker's answers differ from those of the whole cells"
