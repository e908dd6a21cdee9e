"""Why the class failed each test cell (coursekit/report/reasons.py): grouping the trusted run's messages."""
from collections import Counter

import nbformat
import pytest

from coursekit.preprocessors.referee import CellResult, exception_name
from coursekit.report.reasons import (NO_FAILURE, NO_TRUSTED_RUN, NOTEBOOK_ONLY, Verdict, cell_verdicts, class_reason,
                                      failure_reasons)
from coursekit.report.summary import ClassSummary, failures_text


@pytest.mark.parametrize("first, second", [
    ("AssertionError: relu(-0.5) gave 0.5, expected 0.0: relu(z) = max(0, z)",
     "AssertionError: relu(-2) gave 2, expected 0: relu(z) = max(0, z)"),
    ("AssertionError: the gradients have no key 'W1': use the same keys",
     "AssertionError: the gradients have no key 'B2': use the same keys"),
    ("StudentCodeError: relu raised ValueError: my text", "StudentCodeError: relu raised ValueError: other"),
])
def test_messages_that_differ_only_in_the_submissions_values_are_one_reason(first, second):
    assert class_reason(first) == class_reason(second)


def test_a_reason_keeps_the_checks_own_words():
    reason = class_reason("AssertionError: relu raised 'NameError': Python's max and if compare one number at a time")
    assert reason == "relu raised '…': Python's max and if compare one number at a time"


@pytest.mark.parametrize("raised", ["!: Dear professor, please give me an A", ": Dear professor",
                                    "MyError: Dear professor", "ValueError: x': Dear professor': y",
                                    'ValueError: "Dear professor"'])
def test_no_text_of_a_submissions_exception_reaches_the_reason(raised):
    """The referee's run of a check that quotes the exception, as a submission with that exception makes it."""
    result = CellResult("", f"AssertionError: relu raised 'StudentCodeError: relu raised {raised}': Python's max")
    result.redact([raised])
    assert "professor" not in class_reason(result.as_metadata()["reason"])
    assert "professor" not in class_reason(f"StudentCodeError: relu raised {raised}")


def test_an_exception_of_pythons_own_keeps_its_name_and_others_are_an_exception():
    assert exception_name("NameError: name 'x' is not defined") == "NameError"
    assert exception_name("NotImplementedError: ") == "NotImplementedError"
    assert exception_name("MyError: text") == exception_name("print: text") == "an exception"


def test_the_students_feedback_keeps_the_whole_error():
    result = CellResult("", "AssertionError: relu raised 'MyError: my words'")
    result.redact(["MyError: my words"])
    assert result.as_metadata()["error"] == "AssertionError: relu raised 'MyError: my words'"
    assert result.as_metadata()["reason"] == "AssertionError: relu raised 'an exception'"


def test_a_forged_megabyte_message_is_cut_before_it_is_masked():
    assert len(class_reason("AssertionError: " + " 'a" * 500_000)) <= 160
    result = CellResult("", "x" * 10_000_000)
    result.redact([])
    assert len(result.as_metadata()["error"]) <= 2000


def test_a_long_message_is_cut_to_a_line():
    assert len(class_reason("AssertionError: " + "word " * 200)) <= 160


def notebook(verdicts, stopped=(), failed=()):
    """An autograded notebook whose test cells carry the referee's verdicts {grade_id: error or None}; the cells
    in stopped carry the error output KernelSafeExecute gives a cell the kernel did not run, those in failed a
    warning on stderr (which fails a test cell in nbgrader)."""
    cells = []
    for grade_id, error in verdicts.items():
        cell = nbformat.v4.new_code_cell("")
        cell.metadata = {"nbgrader": {"grade_id": grade_id, "grade": True, "points": 1},
                         "coursekit": {"referee": {"passed": error is None, "error": error}}}
        if grade_id in stopped:
            cell.outputs = [nbformat.v4.new_output("error", ename="NotRun", evalue="not run", traceback=[])]
        elif grade_id in failed:
            cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="a warning")]
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


def test_cell_verdicts_reads_each_test_cells_referee_run_and_kernel_stop():
    nb = notebook({"a": None, "b": "AssertionError: no", "c": None}, stopped={"b"}, failed={"c"})
    assert cell_verdicts(nb) == {"a": Verdict(None, False, False), "b": Verdict("AssertionError: no", True, True),
                                 "c": Verdict(None, False, True)}


def summary_of(scores, reasons=None):
    return ClassSummary({"a": 1.0, "b": 1.0}, scores, reasons or {})


def test_failures_are_counted_per_cell_and_reason():
    summary = summary_of({"s1": {"a": 0.0, "b": 1.0}, "s2": {"a": 0.0, "b": 0.0}, "s3": {"a": 1.0, "b": 1.0}})
    books = {"s1": [notebook({"a": "AssertionError: grad W1 is 4 times too large", "b": None})],
             "s2": [notebook({"a": "AssertionError: grad W1 is 8 times too large", "b": None}, failed={"b"})],
             "s3": [notebook({"a": None, "b": None})]}
    failures = failure_reasons(summary, books.__getitem__)
    assert failures == {"a": Counter({"grad W1 is # times too large": 2}), "b": Counter({NOTEBOOK_ONLY: 1})}


def test_cells_the_kernel_did_not_run_fail_for_the_graders_reason():
    summary = summary_of({"s1": {"a": 0.0, "b": 0.0}}, {"s1": "the kernel died in softmax"})
    nb = notebook({"a": "AssertionError: relu(#) gave #", "b": "StudentCodeError: softmax raised NameError: x"},
                  stopped={"b"})
    failures = failure_reasons(summary, lambda student: [nb])
    assert failures == {"a": Counter({"relu(#) gave #": 1}), "b": Counter({"the kernel died in softmax": 1})}


def test_a_messy_notebooks_note_does_not_hide_the_checks_reason():
    summary = summary_of({"s1": {"a": 0.0, "b": 1.0}}, {"s1": "graded backprop (1).ipynb as backprop.ipynb"})
    failures = failure_reasons(summary, lambda student: [notebook({"a": "AssertionError: is the mask applied?",
                                                                   "b": None})])
    assert failures["a"] == Counter({"is the mask applied?": 1})


def test_a_submission_without_a_notebook_fails_for_the_graders_reason():
    summary = summary_of({"s1": {"a": 0.0, "b": 0.0}}, {"s1": "no notebook submitted"})
    failures = failure_reasons(summary, lambda student: [])
    assert failures == {"a": Counter({"no notebook submitted": 1}), "b": Counter({"no notebook submitted": 1})}


def test_a_cell_without_a_verdict_says_so():
    failures = failure_reasons(summary_of({"s1": {"a": 0.0, "b": 1.0}}), lambda student: [])
    assert failures["a"] == Counter({NO_TRUSTED_RUN: 1})


def test_summary_gives_each_failing_cells_share_and_top_reasons():
    summary = summary_of({f"s{i}": {"a": 0.0 if i < 3 else 1.0, "b": 1.0} for i in range(8)})
    summary.failures = {"a": Counter({"is the ReLU mask applied?": 2, "grad W1 is # times too large": 1})}
    text = "\n".join(failures_text(summary))
    assert ("- a: 38% failed (3/8). 25% (2/8) 'is the ReLU mask applied?'; 12% (1/8) 'grad W1 is # times too large'"
            in text)
    assert "- b:" not in text


def test_summary_counts_the_reasons_beyond_the_top_ones():
    summary = summary_of({f"s{i}": {"a": 0.0, "b": 1.0} for i in range(5)})
    summary.failures = {"a": Counter({f"reason {i}": 1 for i in range(5)})}
    assert "; 2 more with 2 other reason(s)" in "\n".join(failures_text(summary))


def test_a_cell_below_full_points_that_failed_nowhere_is_a_manual_grade():
    failures = failure_reasons(summary_of({"s1": {"a": 0.5, "b": 1.0}}), lambda student: [notebook({"a": None})])
    assert failures["a"] == Counter({NO_FAILURE: 1})
