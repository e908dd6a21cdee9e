"""Feedback without hidden test code: a preprocessor for nbgrader's GenerateFeedback.

Autograded notebooks hold the full test cells (nbgrader restores them from the gradebook), so stock
``nbgrader generate_feedback`` shows students the hidden tests, and a failing hidden check's traceback shows
their source lines too. ``HideHiddenTests`` (added to ``GenerateFeedback.preprocessors`` in
nbgrader_config.py, so the stock command and ``coursekit grade`` both use it) changes only the feedback:

- in every autograder test cell it removes the BEGIN/END HIDDEN TESTS regions (nbgrader's own
  ``ClearHiddenTests``, with its configurable delimiters) and adds a comment saying hidden tests ran there;
- it reduces each error of a test cell to the error's name and message (the student sees which check
  failed and why, not where in the test code);
- it replaces any output, of any cell, that contains a line of hidden test code (a submission can print
  the notebook it runs in) by a notice.
"""
import re
from collections import Counter

from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Integer, Unicode

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def is_test_cell(cell):
    """Whether the cell is an autograder test cell (graded code that is not an answer)."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def referee_result(cell):
    """The referee's result for a test cell (coursekit/referee.py), or None when it has none."""
    result = cell.get("metadata", {}).get("coursekit", {}).get("referee")
    return result if isinstance(result, dict) and {"output", "error"} <= set(result) else None


def normalise(text):
    """text without ANSI colours and with every run of whitespace made one space."""
    return " ".join(ANSI_ESCAPE.sub("", text).split())


def output_text(output):
    """All the text an output shows: stream text, error name, message and traceback, every non-image type."""
    parts = [output.get("text", ""), output.get("ename", ""), output.get("evalue", "")]
    parts += output.get("traceback", [])
    for mime, value in output.get("data", {}).items():
        if not mime.startswith("image/"):
            parts.append(value if isinstance(value, str) else "".join(value) if isinstance(value, list) else "")
    return "\n".join(part if isinstance(part, str) else "".join(part) for part in parts)


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden test code from test cells and from every output the feedback would show."""

    notice = Unicode("# Hidden tests ran in this cell; their code is not shown.",
                     help="The line added to a test cell whose hidden tests were removed").tag(config=True)

    hidden_output_notice = Unicode(
        "[output not shown in feedback: this cell ran after the hidden tests; run your notebook to see it]",
        help="What feedback shows instead of a kernel output that could carry hidden test code").tag(config=True)

    min_secret_length = Integer(
        12, help="Hidden-test lines shorter than this (after whitespace is collapsed) are too common to look "
                 "for in outputs").tag(config=True)

    def preprocess(self, nb, resources):
        """Collect the hidden test lines of the whole notebook, then clean every cell."""
        self.secrets = self.secret_lines(nb)
        tests = [i for i, cell in enumerate(nb.cells) if is_test_cell(cell)]
        refereed = bool(tests) and all(referee_result(nb.cells[i]) is not None for i in tests)
        self.untrusted_from = tests[0] if refereed else len(nb.cells)
        return super().preprocess(nb, resources)

    def secret_lines(self, nb):
        """Normalised lines that appear in hidden test regions and nowhere else in the shown sources."""
        hidden, shown = Counter(), set()
        for cell in nb.cells:
            if is_test_cell(cell):
                copy = NotebookNode(cell_type=cell.cell_type, source=cell.source, metadata=cell.metadata)
                self._remove_hidden_test_region(copy)
                removed = Counter(cell.source.split("\n")) - Counter(copy.source.split("\n"))
                hidden.update(normalise(line) for line in removed.elements())
                shown.update(normalise(line) for line in copy.source.split("\n"))
            else:
                shown.update(normalise(line) for line in cell.source.split("\n"))
        return {line for line in hidden if len(line) >= self.min_secret_length and line not in shown}

    def preprocess_cell(self, cell, resources, cell_index):
        """Hide the hidden regions and error details of a test cell; drop outputs that show hidden code."""
        if is_test_cell(cell) and self._remove_hidden_test_region(cell):
            cell.source = cell.source.rstrip("\n") + "\n" + self.notice
        if cell.cell_type == "code" and cell_index >= self.untrusted_from:
            cell.outputs = self.trusted_outputs(cell)
        if cell.cell_type == "code":
            cell.outputs = [self.clean_output(output, is_test_cell(cell)) for output in cell.outputs]
        return cell, resources

    def trusted_outputs(self, cell):
        """What feedback shows of a cell that ran after the first hidden test had run in the student's kernel.

        From then on, student code in the kernel could have read the hidden tests (they were in that process)
        and written them into any output, disguised so that no filter finds them. So no kernel output of those
        cells is shown: a test cell shows what it printed and its error in the referee's run, in the grader's
        own process, where student code never saw a test; other cells show a notice.
        """
        result = referee_result(cell) if is_test_cell(cell) else None
        if result is None:
            return [NotebookNode(output_type="stream", name="stdout", text=self.hidden_output_notice + "\n")]
        outputs = [NotebookNode(output_type="stream", name="stdout", text=result["output"])] if result["output"] else []
        if result["error"]:
            ename, _, evalue = result["error"].partition(": ")
            outputs.append(NotebookNode(output_type="error", ename=ename, evalue=evalue,
                                        traceback=[result["error"]]))
        return outputs

    def clean_output(self, output, in_test_cell):
        """The output as the student may see it."""
        if in_test_cell and output.output_type == "error":
            output.traceback = [f"{output.ename}: {output.evalue}"]
        if self.shows_secret(output):
            return NotebookNode(output_type="stream", name="stdout",
                                text="[output removed: it showed hidden test code]\n")
        return output

    def shows_secret(self, output):
        """Whether the output contains a line of hidden test code."""
        text = normalise(output_text(output))
        return any(secret in text for secret in self.secrets)
