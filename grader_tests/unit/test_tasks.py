"""coursekit/grading/tasks.py: the typed task a worker does, and the one-line reasons read from nbgrader's log.

The logs are nbgrader's own (the autograde of a class, trimmed: paths shortened, repeated lines left out).
"""
import pytest

from coursekit.grading import tasks
from coursekit.grading.tasks import Result, Task, failure_reason, hung_reason, kernel_stop_reason, last_line, run_task

CONVERTING = """\
[INFO] Creating/updating student with ID 'alice': {}
[INFO] Overwriting files with master versions from the source directory
[INFO] Copying /course/source/./backprop/backprop_checks.py -> /course/autograded/alice/backprop/backprop_checks.py
[INFO] Sanitizing /course/submitted/alice/backprop/backprop.ipynb
[INFO] Converting notebook /course/submitted/alice/backprop/backprop.ipynb
"""

NOT_JSON_LOG = CONVERTING + """\
[ERROR] There was an error processing assignment: /course/submitted/alice/backprop
[ERROR] Traceback (most recent call last):
      File "/venv/lib/python3.11/site-packages/nbformat/reader.py", line 19, in parse_json
        nb_dict = json.loads(s, **kwargs)
                  ^^^^^^^^^^^^^^^^^^^^^^^
      File "/usr/lib/python3.11/json/decoder.py", line 353, in raw_decode
        obj, end = self.scan_once(s, idx)
                   ^^^^^^^^^^^^^^^^^^^^^^
    json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)
    
    The above exception was the direct cause of the following exception:
    
    Traceback (most recent call last):
      File "/venv/lib/python3.11/site-packages/nbgrader/converters/base.py", line 390, in convert_notebooks
        self.convert_single_notebook(notebook_filename)
      File "/venv/lib/python3.11/site-packages/nbformat/reader.py", line 25, in parse_json
        raise NotJSONError(message) from e
    nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{not json'
    
[WARNING] Removing failed assignment: /course/autograded/alice/backprop
[ERROR] There was an error processing assignment 'backprop' for student 'alice'
[ERROR] Please see the the above traceback for details on the specific errors on the above failures.
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/nbgrader/utils.py", line 542, in capture_log
    app.start()
  File "/venv/lib/python3.11/site-packages/nbgrader/converters/base.py", line 468, in convert_notebooks
    raise NbGraderException(msg)
nbgrader.converters.base.NbGraderException: Please see the the above traceback for details on the specific errors on the above failures.
"""

CHECKSUMS = """\
[WARNING] Attribute 'checksum' for cell test_relu has changed! (should be: 6bdea9e0b94e51745df594e6cfb4041e, got: b671fdd0b90745dd3a2bd4eadba9a385)
[INFO] Writing 43286 bytes to /course/autograded/alice/backprop/backprop.ipynb
[INFO] Autograding /course/autograded/alice/backprop/backprop.ipynb
[INFO] Converting notebook /course/autograded/alice/backprop/backprop.ipynb
"""
DONE = """\
[INFO] Writing 49469 bytes to /course/autograded/alice/backprop/backprop.ipynb
[INFO] Setting destination file permissions to 444
"""
GRADED_LOG = CONVERTING + CHECKSUMS + DONE
KERNEL_DIED_LOG = CONVERTING + CHECKSUMS + """\
[ERROR] Kernel died while waiting for execute reply.
[ERROR] coursekit: kernel stopped: KernelDied in softmax
""" + DONE
KERNEL_HUNG_LOG = CONVERTING + CHECKSUMS + """\
[ERROR] Timeout waiting for execute reply (6s).
[ERROR] Interrupting kernel
[ERROR] coursekit: kernel stopped: KernelUnresponsive in sgd_update
""" + DONE


def test_failure_reason_names_the_exception_that_stopped_nbgrader():
    assert failure_reason(NOT_JSON_LOG) == "NotJSONError: Notebook does not appear to be JSON: '{not json'"


def test_failure_reason_skips_nbgraders_own_wrapper_exception():
    assert "NbGraderException" not in failure_reason(NOT_JSON_LOG), "the reason is nbgrader's 'see above' wrapper"


def test_failure_reason_without_a_traceback_is_the_first_error_line():
    log = CONVERTING + "[ERROR] No notebooks were matched by '/course/submitted/alice/backprop/*.ipynb'\n"
    assert failure_reason(log) == "No notebooks were matched by '/course/submitted/alice/backprop/*.ipynb'"


def test_failure_reason_without_errors_is_the_last_line():
    assert failure_reason(CONVERTING) == "[INFO] Converting notebook /course/submitted/alice/backprop/backprop.ipynb"


def test_last_line_of_an_empty_log_says_there_is_no_message():
    assert last_line("\n  \n") == "no message"


def test_kernel_stop_reason_of_a_kernel_that_died_names_the_cell():
    assert kernel_stop_reason(KERNEL_DIED_LOG) == "the kernel died in softmax: later cells were not run and score 0"


def test_kernel_stop_reason_of_a_kernel_that_ignored_its_time_limit():
    reason = kernel_stop_reason(KERNEL_HUNG_LOG)
    assert reason == "the kernel did not stop after a cell's time limit in sgd_update: later cells were not run " \
                     "and score 0", reason


def test_hung_reason_names_each_function_that_ran_past_a_cell_limit_and_where():
    log = CONVERTING + "[ERROR] coursekit: timed out: relu in test_relu\n" + \
        "[ERROR] coursekit: timed out: sgd_update in test_sgd_update\n" + DONE
    assert hung_reason(log) == ("timed out: relu in test_relu, sgd_update in test_sgd_update (later calls fail at "
                                "once and their cells score 0)")


def test_hung_reason_of_a_normal_run_is_none():
    assert hung_reason(GRADED_LOG) is None


def test_kernel_stop_reason_of_a_normal_run_is_none():
    assert kernel_stop_reason(GRADED_LOG) is None


class FakeApi:
    """NbGraderAPI's autograde and generate_feedback, answering with the given results in turn."""

    def __init__(self, *results):
        self.results = list(results)
        self.calls = []

    def autograde(self, assignment, student, force, create):
        self.calls.append(("autograde", assignment, student))
        return self.results.pop(0)

    def generate_feedback(self, assignment, student, force):
        self.calls.append(("feedback", assignment, student))
        return self.results.pop(0)


@pytest.fixture
def no_gradebook(monkeypatch):
    monkeypatch.setattr(tasks, "submission_score", lambda api, a, s: {"score": 12.0, "max_score": 14.0})
    monkeypatch.setattr(tasks.time, "sleep", lambda seconds: None)


def task(tmp_path, kind="autograde"):
    return Task(kind, "week1", "alice", str(tmp_path / "logs" / "week1" / "alice.log"))


def test_a_graded_submission_gives_a_done_result_with_its_score(tmp_path, no_gradebook):
    result = run_task(FakeApi({"success": True, "log": GRADED_LOG}), task(tmp_path))
    assert result == Result("alice", True, None, 12.0, 14.0), result


def test_a_failed_autograde_gives_the_reason_and_no_grade(tmp_path, no_gradebook):
    result = run_task(FakeApi({"success": False, "log": NOT_JSON_LOG, "error": ""}), task(tmp_path))
    assert not result.done and result.reason == "could not be graded: NotJSONError: Notebook does not appear to " \
                                                "be JSON: '{not json'", result


def test_a_kernel_that_died_is_graded_with_the_reason(tmp_path, no_gradebook):
    result = run_task(FakeApi({"success": True, "log": KERNEL_DIED_LOG}), task(tmp_path))
    assert result.done and result.reason.startswith("the kernel died in softmax"), result


def test_the_task_keeps_nbgraders_log_in_its_log_file(tmp_path, no_gradebook):
    run_task(FakeApi({"success": True, "log": GRADED_LOG}), task(tmp_path))
    assert (tmp_path / "logs" / "week1" / "alice.log").read_text() == GRADED_LOG


def test_a_locked_database_is_retried(tmp_path, no_gradebook):
    api = FakeApi({"success": False, "log": "", "error": "(sqlite3.OperationalError) database is locked"},
                  {"success": True, "log": GRADED_LOG})
    result = run_task(api, task(tmp_path))
    assert len(api.calls) == 2 and result.done, f"calls {api.calls}, result {result}"


def test_a_feedback_task_calls_generate_feedback(tmp_path, no_gradebook):
    api = FakeApi({"success": False, "log": NOT_JSON_LOG})
    result = run_task(api, task(tmp_path, "feedback"))
    assert api.calls == [("feedback", "week1", "alice")]
    assert result.reason.startswith("no feedback: NotJSONError"), result


def test_tasks_and_results_are_immutable_records():
    with pytest.raises(AttributeError):
        Task("autograde", "week1", "alice", "log").student = "bob"
    with pytest.raises(AttributeError):
        Result("alice", True).done = False
