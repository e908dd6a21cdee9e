"""Randomness never decides a grade: the test cells, run as graded with many different draws of their hidden
inputs, pass for the reference solution and every correct answer of the catalogue on every draw, and give every
wrong answer and look-alike the same outcome on every draw.

The cells run in this process (not through nbgrader, which the catalogue test uses): each test cell's code as
the grader runs it, with its grading-time seed replaced by the draw's seed, in a namespace holding the
notebook's given cells and the answer's solution cells. Anything a cell writes to stderr (a warning) fails it,
as it does under nbgrader.
"""
import contextlib
import io
import time
import warnings

import numpy as np
import pytest

from coursekit.course.notebooks import HIDDEN_MARKERS, cells_by_id, hidden_blocks, reference_answers, strip_markers
from support.cells import GIVEN_CELLS, TEST_CELLS, TRAINING
from catalogue import all_entries
from catalogue.report import SUMMARY_LINES

CORRECT_DRAWS = 500  # for the reference solution and every correct answer
OTHER_DRAWS = 100  # for every wrong answer and look-alike
SEED_EXPRESSION = "np.random.SeedSequence().entropy"  # how a test cell draws its seed at grading time

ENTRIES = all_entries()
CORRECT = [entry for entry in ENTRIES if entry.kind == "correct"]
OTHERS = [entry for entry in ENTRIES if entry.kind != "correct"]
DRAWN_CELLS = [cell for cell in TEST_CELLS if cell != TRAINING]


@pytest.fixture(scope="module")
def cell_code(source_nb):
    """test cell grade_id -> its code as graded (visible and hidden parts), the seed drawn there replaced by SEED,
    compiled once (compiling a cell costs about a tenth of a run of it)."""
    cells = cells_by_id(source_nb)
    return {cell: compile(strip_markers(cells[cell].source, HIDDEN_MARKERS).replace(SEED_EXPRESSION, "SEED"),
                          f"<{cell}>", "exec")
            for cell in TEST_CELLS}


@pytest.fixture(scope="module")
def hidden_helpers(source_nb, reference):
    """The reference solution with the hidden test helpers (hidden_backward_problem, hidden_check_backward)."""
    namespace = dict(reference)
    exec(hidden_blocks(cells_by_id(source_nb)["test_backward_output_layer"].source)[0], namespace)
    return namespace


@pytest.fixture(scope="module")
def tally(request):
    """Answers and cell runs that passed, per kind ("correct" includes the reference); a summary line at the end."""
    counts = {"correct": [0, 0], "other": [0, 0]}  # [answers, cell runs]
    start = time.monotonic()
    yield counts
    if counts["correct"][0] or counts["other"][0]:
        request.config.stash.setdefault(SUMMARY_LINES, []).append(
            f"hidden draws: {CORRECT_DRAWS} per cell on {counts['correct'][0]} correct answers (the reference "
            f"included; {counts['correct'][1]} cell runs, all passed), {OTHER_DRAWS} per cell on "
            f"{counts['other'][0]} wrong answers and look-alikes ({counts['other'][1]} cell runs, the expected "
            f"outcome on every draw) in "
            f"{time.monotonic() - start:.0f} s")


def answer_namespace(source_nb, code):
    """The notebook's given cells and the solution cells (code: grade_id -> source) executed, in notebook order."""
    namespace = {}
    cells = cells_by_id(source_nb)
    for grade_id, cell in cells.items():
        if grade_id in code:
            exec(code[grade_id], namespace)
        elif grade_id in GIVEN_CELLS:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(cell.source, namespace)
    return namespace


def run_cell(code, namespace, seed):
    """Run a test cell's compiled code with SEED = seed; None if it passes, else what failed it (an error, or
    stderr)."""
    namespace["SEED"] = seed
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        try:
            exec(code, namespace)
        except Exception as error:
            return f"{type(error).__name__}: {error}"
    if caught:
        return f"{caught[0].category.__name__} on stderr: {caught[0].message}"
    return None


def test_every_test_cell_but_training_draws_its_hidden_inputs_at_grading_time(source_nb):
    cells = cells_by_id(source_nb)
    for cell in DRAWN_CELLS:
        hidden = "\n".join(hidden_blocks(cells[cell].source))
        assert SEED_EXPRESSION in hidden, f"{cell}'s hidden tests draw no seed at grading time ({SEED_EXPRESSION})"
    assert SEED_EXPRESSION not in cells[TRAINING].source, "test_training is the lesson's fixed run: it draws nothing"


def test_hidden_backward_problems_never_take_the_visible_example_sizes(hidden_helpers):
    visible = {"N": 4, "D": 3, "H": 5, "C": 2}
    seen = set()
    for seed in range(CORRECT_DRAWS):
        X, Y, params, cache, loss, where = hidden_helpers["hidden_backward_problem"](seed)
        sizes = {"N": X.shape[0], "D": X.shape[1], "H": params["W1"].shape[1], "C": Y.shape[1]}
        assert len(set(sizes.values())) == 4, f"sizes not distinct {where}"
        same = [name for name in sizes if sizes[name] == visible[name]]
        assert not same, f"{same} as in the visible example {where}"
        assert np.min(np.abs(cache["z1"])) > 0.01, f"a z1 within 0.01 of the ReLU kink {where}"
        seen.add(tuple(sizes.values()))
    assert len(seen) > 100, f"only {len(seen)} different problem shapes in {CORRECT_DRAWS} draws"


def failures_under_draws(cells, cell_code, namespace, draws, expected_to_fail=frozenset()):
    """Run each cell under `draws` seeds; the runs whose outcome differs from the expectation, as lines."""
    lines = []
    for cell in cells:
        for seed in range(draws if cell != TRAINING else 1):
            failure = run_cell(cell_code[cell], namespace, seed)
            if (failure is not None) != (cell in expected_to_fail):
                lines.append(f"{cell}, seed {seed}: {failure or 'passed, but must lose points'}")
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("entry", [None] + CORRECT, ids=lambda entry: entry.name if entry else "reference")
def test_correct_answer_passes_every_test_cell_under_500_draws(entry, source_nb, cell_code, tally):
    code = entry.code if entry else {}
    cells = [cell for cell in TEST_CELLS if entry is None or cell in entry.own_cells or cell == TRAINING]
    namespace = answer_namespace(source_nb, {**reference_answers(source_nb), **code})
    failures = failures_under_draws(cells, cell_code, namespace, CORRECT_DRAWS)
    name = entry.name if entry else "the reference solution"
    assert not failures, f"{name} failed {len(failures)} cell runs:\n  " + "\n  ".join(failures[:10])
    tally["correct"][0] += 1
    tally["correct"][1] += sum(CORRECT_DRAWS if cell != TRAINING else 1 for cell in cells)


@pytest.mark.slow
@pytest.mark.parametrize("entry", OTHERS, ids=lambda entry: entry.name)
def test_wrong_answer_or_lookalike_gets_its_expected_outcome_on_all_100_draws(entry, source_nb, cell_code, tally):
    namespace = answer_namespace(source_nb, {**reference_answers(source_nb), **entry.code})
    cells = [cell for cell in DRAWN_CELLS if cell in entry.own_cells]
    failures = failures_under_draws(cells, cell_code, namespace, OTHER_DRAWS, entry.loses)
    assert not failures, (f"{entry.kind} answer {entry.name}: the outcome differs from the expected one in "
                          f"{len(failures)} cell runs:\n  " + "\n  ".join(failures[:10]))
    tally["other"][0] += 1
    tally["other"][1] += OTHER_DRAWS * len(cells)


@pytest.mark.slow
def test_hidden_gradient_checks_pass_the_reference_at_a_tenth_of_the_tolerance(hidden_helpers):
    # The grader's tolerance is 1e-6: no draw comes within a factor 10 of failing a correct gradient.
    for seed in range(CORRECT_DRAWS):
        for names in (["W2", "B2"], ["W1", "B1"]):
            hidden_helpers["hidden_check_backward"](hidden_helpers["backward"], names, seed, tolerance=1e-7)
