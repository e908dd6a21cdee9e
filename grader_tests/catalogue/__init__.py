"""A catalogue of student answers to the backprop exercise, each with the grade it must get.

An entry is code for one or more of the four solution cells (relu, softmax, backward, sgd_update); the other
cells get the reference solution, so each entry tests one idea. ``entry.loses`` names the test cells that must
lose points; every other test cell must keep full marks.

- ``wrong.py``: answers with a realistic bug. They lose points in the cells that test their function, and in
  ``test_training`` where the network really trains worse (measured by grading them, then written down).
- ``correct.py``: correct answers written differently from the reference. They get full marks.
- ``lookalike.py``: answers that only look right (hard-coded outputs, an ``==`` that is always true, zeros).
  They lose every cell their real behaviour does not earn.

``builder.py`` turns entries into submitted notebooks and grades them with nbgrader's ``autograde``.
"""
from dataclasses import dataclass, field

from support.cells import CELLS_OF, FUNCTIONS, TEST_CELLS, TRAINING

__all__ = ["CELLS_OF", "FUNCTIONS", "TEST_CELLS", "TRAINING", "Entry", "all_entries", "answers"]


@dataclass(frozen=True)
class Entry:
    """One student answer and the grade it must get.

    kind: "wrong", "correct" or "lookalike"; name: a short unique id; what: one line on what the student wrote;
    code: solution cell grade_id -> cell source; loses: the test cells that must score below full marks;
    says: for a wrong answer, words that the first cell it loses must print (its visible check's message).
    """
    kind: str
    name: str
    what: str
    code: dict
    loses: frozenset = field(default_factory=frozenset)
    says: str | None = None

    @property
    def functions(self):
        """The functions this entry writes, in notebook order."""
        return [name for name in FUNCTIONS if name in self.code]

    @property
    def own_cells(self):
        """The test cells of the functions this entry writes."""
        return {cell for name in self.functions for cell in CELLS_OF[name]}

    @property
    def first_loss(self):
        """The first test cell, in notebook order, that must lose points (None if none)."""
        return next((cell for cell in TEST_CELLS if cell in self.loses), None)


def answers(kind, name, what, *, loses=(), says=None, **code):
    """An Entry; code is given as keyword arguments named after the solution cells (relu=..., backward=...)."""
    unknown = set(code) - set(FUNCTIONS)
    assert not unknown, f"{name}: no solution cell named {unknown}"
    unknown = set(loses) - set(TEST_CELLS)
    assert not unknown, f"{name}: no test cell named {unknown}"
    return Entry(kind, name, what, {cell: source.strip("\n") + "\n" for cell, source in code.items()},
                 frozenset(loses), says)


def all_entries():
    """Every entry of the catalogue: the wrong answers, the correct ones, the look-alikes."""
    from .correct import CORRECT
    from .lookalike import LOOKALIKES
    from .wrong import WRONG
    return WRONG + CORRECT + LOOKALIKES
