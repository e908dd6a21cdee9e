"""What a "hidden-test line" is: the one definition every test that looks for leaked hidden tests uses.

A hidden-test line is a line of a BEGIN/END HIDDEN TESTS region of the assignment's source notebook (the marker
lines included), whitespace collapsed as ``normalise`` does, that is not blank and is not a line of the
notebook's other cells (the solution cells included: a student's feedback shows her own answer, which may equal
the reference's). This is exactly what the feedback filter, ``HideHiddenTests.secret_lines``, hides
(grader_tests/unit/test_hide_hidden_tests.py checks that they agree). Where the text searched also holds the
assignment's helper files (the release, a student's feedback folder), lines those files show (with or without a trailing comment) are not
secret either: pass them as ``helper_files``.

``min_length`` leaves out short lines. Where the text searched was written by nbgrader alone (the release),
every line counts (``min_length=1``). Where a student's own code and output are in the text (feedback), a
line shorter than the feedback filter's ``HideHiddenTests.min_secret_length`` (``while True:``, ``break``)
would be found in honest work, so that is the default: the tests look for every line the filter hides.
"""
import html
import re
from pathlib import Path

from coursekit.course.notebooks import HIDDEN_MARKERS
from coursekit.preprocessors.hide_hidden_tests import HideHiddenTests, normalise

FEEDBACK_MIN_LENGTH = HideHiddenTests.min_secret_length.default_value


def split_hidden(source):
    """(hidden lines, other lines) of a cell's source; the marker lines count as hidden."""
    hidden, other, inside = [], [], False
    for line in source.split("\n"):
        if HIDDEN_MARKERS[0] in line:
            inside = True
        (hidden if inside else other).append(line)
        if HIDDEN_MARKERS[1] in line:
            inside = False
    return hidden, other


def shown_lines(source_nb, helper_files=()):
    """The normalised lines a student may see: every cell's source outside hidden regions, and helper_files."""
    lines = set()
    for cell in source_nb.cells:
        lines.update(normalise(line) for line in split_hidden(cell.source)[1])
    for path in helper_files:
        for line in map(normalise, Path(path).read_text().split("\n")):
            lines.update([line, line.split(" # ")[0]])  # with and without a trailing comment
    return lines


def hidden_test_lines(source_nb, helper_files=(), min_length=FEEDBACK_MIN_LENGTH):
    """The hidden-test lines of source_nb (normalised, at least min_length characters), sorted.

    helper_files: the assignment's other files students get (e.g. source/backprop/backprop_checks.py).
    """
    shown = shown_lines(source_nb, helper_files)
    hidden = {normalise(line) for cell in source_nb.cells for line in split_hidden(cell.source)[0]}
    return sorted(line for line in hidden if line and len(line) >= min_length and line not in shown)


def helper_files(folder):
    """The files of an assignment folder besides its notebooks (what the notebook imports)."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix != ".ipynb")


def page_text(path):
    """The visible text of an HTML page (feedback), tags dropped and whitespace collapsed."""
    return normalise(html.unescape(re.sub(r"<[^>]+>", " ", Path(path).read_text())))
