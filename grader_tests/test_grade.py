"""The grade command: parallel autograde of a mixed class that loses nothing, the report, feedback without secrets.

One temporary course is graded once with ``python -m coursekit grade`` (2 workers): correct, untouched and
buggy submissions, a kernel that exits, one that segfaults, one stuck in a loop that ignores interrupts, one
that prints its own notebook, a missing notebook and an unreadable one. Most tests read that course. The
re-run tests work on copies of it, the time-limit tests on a small course of their own.
"""
import csv
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import uuid

import psutil
import pytest
from PIL import Image

from coursekit.cli import main
from coursekit.course.assignments import generate_assignment
from coursekit.course.config import nbgrader_env
from coursekit.course.gradebook import snapshot
from coursekit.course.notebooks import build_submission, hidden_blocks, nbgrader_meta, read, reference_answers
from coursekit.grading import grade_class
from coursekit.grading.progress import LineProgress
from coursekit.grading.state import State, only_run
from coursekit.preprocessors.hide_hidden_tests import HideHiddenTests, normalise
from coursekit.report.summary import class_summary
from support.answers import BACKWARD_WITHOUT_RELU_MASK, NO_MASK_LOSES
from support.cells import cells_in_order
from support.course import ASSIGNMENT, NOTEBOOK, REPO, new_course, run_nbgrader, submit
from support.secrets import hidden_test_lines, page_text

PER_CELL_TIMEOUT = 15  # nbgrader's Execute.timeout in the test courses: the stuck loop costs this plus 4 s;
# the set-up cell's imports take 2-3 s of CPU, and two kernels and two referee workers share 2 cores
LOOP_IGNORING_INTERRUPTS = """
import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    time.sleep(0.05)"""

# student -> (answers added to the reference solution, the solution cell where the kernel stops or None)
SUBMISSIONS = {
    "correct": ({}, None),
    "no-relu-mask": ({"backward": BACKWARD_WITHOUT_RELU_MASK}, None),
    "fixed-learning-rate": ({"sgd_update": '''
def sgd_update(params, grads, learning_rate):
    for name in params:
        params[name] = params[name] - 0.1 * grads[name]
    return params'''}, None),
    "exits": ({"softmax": "+\nimport os\nos._exit(1)"}, "softmax"),
    "segfaults": ({"backward": "+\nimport ctypes\nctypes.string_at(0)"}, "backward"),
    "loops": ({"sgd_update": "+" + LOOP_IGNORING_INTERRUPTS}, "sgd_update"),
    # the sandbox hides the notebook file, but the kernel's input history holds the test cells that ran
    "prints-notebook": ({"sgd_update": "+\nprint('\\n'.join(In))"}, None),
}
BUGGY_CELLS = {"no-relu-mask": NO_MASK_LOSES,
               "fixed-learning-rate": {"test_sgd_update", "test_training"}}
NEEDS_ATTENTION = {"exits": "the kernel died in softmax", "segfaults": "the kernel died in backward",
                   "loops": "the kernel did not stop after a cell's time limit in sgd_update",
                   "missing": "no notebook submitted", "broken": "NotJSONError"}


def make_notebook(release_nb, reference, answers):
    """The reference solution with answers replacing cells, or appended to them when they start with '+'."""
    code = {cell: reference[cell] + text[1:] if text.startswith("+") else text for cell, text in answers.items()}
    return build_submission(release_nb, {**reference, **code})


def new_test_course(folder):
    """A fresh course whose cells may run PER_CELL_TIMEOUT seconds, graded with every defence on.

    These tests check the grading machinery (workers, time limits, kernels that die, the report), whose
    promise is that cells which ran before a crash keep their points, in the kernel and in the referee's
    worker alike (a cell that kills or hangs the worker costs only the tests of what it and the cells after it
    define).
    """
    course = new_course(folder)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Execute.timeout = {PER_CELL_TIMEOUT}\n")
    return course


def run_command(course, command, *args):
    """python -m coursekit COMMAND in the course, as an instructor runs it (not on a terminal)."""
    return subprocess.run([sys.executable, "-m", "coursekit", "--course", str(course), command, *args],
                          capture_output=True, text=True, env=nbgrader_env(), timeout=900)


def run_grade(course, *args):
    return run_command(course, "grade", *args)


def expected_scores(student, source_nb, max_points):
    """The scores each test cell should get: full unless buggy, not run or not submitted."""
    if student in ("untouched", "missing", "broken"):
        return {cell: 0.0 for cell in max_points}
    order = cells_in_order(source_nb)
    stop = SUBMISSIONS[student][1]
    failing = set(BUGGY_CELLS.get(student, ()))
    if stop:
        failing |= {cell for cell in max_points if order.index(cell) > order.index(stop)}
    return {cell: 0.0 if cell in failing else points for cell, points in max_points.items()}


@pytest.fixture(scope="module")
def class_course(tmp_path_factory, source_nb, release_nb):
    """The mixed class, graded once with the grade command, then reported: (course, grade process, report process)."""
    course = new_test_course(tmp_path_factory.mktemp("class") / "course")
    reference = reference_answers(source_nb)
    for student, (answers, _) in SUBMISSIONS.items():
        submit(course, student, make_notebook(release_nb, reference, answers))
    submit(course, "untouched", release_nb)
    (course / "submitted" / "missing" / ASSIGNMENT).mkdir(parents=True)
    broken = course / "submitted" / "broken" / ASSIGNMENT / NOTEBOOK
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    graded = run_grade(course, "--workers", "2", "--timeout", "120")
    return course, graded, run_command(course, "report", "--workers", "2")


STUDENTS = [*SUBMISSIONS, "untouched", "missing", "broken"]


@pytest.fixture(scope="module")
def class_grades(class_course):
    return snapshot(class_course[0], ASSIGNMENT)


def total_scores(record):
    """{test cell: score} of a snapshot record (manual score first, as nbgrader counts it)."""
    return {cell.split("/", 1)[1]: manual if manual is not None else auto
            for cell, (auto, manual, *_rest) in record["cells"].items()}


@pytest.mark.slow
def test_every_submission_gets_a_grade_for_every_cell(class_grades, max_points):
    assert sorted(class_grades) == sorted(STUDENTS)
    for student, record in class_grades.items():
        missing = [cell for cell, score in total_scores(record).items() if score is None]
        assert not missing, f"{student} has no score for {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("student", STUDENTS)
def test_scores_recorded_for(student, class_grades, source_nb, max_points):
    scores = {cell: score for cell, score in total_scores(class_grades[student]).items() if cell in max_points}
    assert scores == expected_scores(student, source_nb, max_points), f"scores of {student}"


@pytest.mark.slow
def test_exit_status_is_1_when_submissions_need_attention(class_course):
    process = class_course[1]
    assert process.returncode == 1, process.stderr[-2000:]


@pytest.mark.slow
def test_output_names_each_submission_needing_attention_with_its_reason(class_course):
    process = class_course[1]
    listed = dict(re.findall(r"^  (\S+): (.+)$", process.stdout, flags=re.M))
    assert set(listed) == set(NEEDS_ATTENTION), process.stdout
    for student, words in NEEDS_ATTENTION.items():
        assert words in listed[student], f"{student}: {listed[student]!r} does not say {words!r}"


@pytest.mark.slow
def test_progress_is_one_line_per_submission_when_not_on_a_terminal(class_course):
    process = class_course[1]
    students = re.findall(rf"^\[\d+/{len(STUDENTS)}\] (\S+): \d+/14 ", process.stdout, flags=re.M)
    assert sorted(students) == sorted(STUDENTS), process.stdout


@pytest.mark.slow
def test_grades_equal_those_of_a_serial_stock_nbgrader_autograde(class_course, class_grades, tmp_path):
    course = class_course[0]
    students = ["correct", "no-relu-mask", "exits"]
    stock = new_test_course(tmp_path / "stock")
    for student in students:
        shutil.copytree(course / "submitted" / student, stock / "submitted" / student)
    run_nbgrader(stock, "autograde", ASSIGNMENT)
    assert snapshot(stock, ASSIGNMENT) == {s: class_grades[s] for s in students}


@pytest.mark.slow
def test_report_command_succeeds(class_course):
    report = class_course[2]
    assert report.returncode == 0, report.stdout[-2000:] + report.stderr[-2000:]


@pytest.mark.slow
def test_report_exports_nbgrader_grades_csv_with_every_student(class_course, max_points):
    course = class_course[0]
    with open(course / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == sorted(STUDENTS)
    assert float(rows["correct"]["score"]) == sum(max_points.values())


@pytest.mark.slow
def test_scores_table_has_each_cell_and_the_reason(class_course, source_nb, max_points):
    course = class_course[0]
    with open(course / "reports" / ASSIGNMENT / "scores.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == sorted(STUDENTS)
    expected = expected_scores("segfaults", source_nb, max_points)
    assert {cell: float(rows["segfaults"][cell]) for cell in max_points} == expected
    assert "the kernel died in backward" in rows["segfaults"]["needs_attention"]
    assert rows["correct"]["needs_attention"] == ""


@pytest.mark.slow
def test_summary_gives_the_share_of_students_passing_each_test_cell(class_course, source_nb, max_points):
    course = class_course[0]
    summary = (course / "reports" / ASSIGNMENT / "summary.md").read_text()
    n = len(STUDENTS)
    for cell, points in max_points.items():
        passed = sum(1 for s in STUDENTS if expected_scores(s, source_nb, max_points)[cell] == points)
        assert f"| {cell} | {points:g} | {passed / n:.0%} ({passed}/{n}) |" in summary, cell


@pytest.mark.slow
def test_summary_gives_mean_and_median_score(class_course, source_nb, max_points):
    course = class_course[0]
    totals = [sum(expected_scores(s, source_nb, max_points).values()) for s in STUDENTS]
    summary = (course / "reports" / ASSIGNMENT / "summary.md").read_text()
    assert f"mean {statistics.mean(totals):.1f}, median {statistics.median(totals):g}" in summary


@pytest.mark.slow
def test_summary_gives_the_share_of_students_failing_each_test_cell(class_course, source_nb, max_points):
    summary = (class_course[0] / "reports" / ASSIGNMENT / "summary.md").read_text()
    wrong = summary.split("## What the class got wrong", 1)[1]
    n = len(STUDENTS)
    for cell, points in max_points.items():
        failed = sum(1 for s in STUDENTS if expected_scores(s, source_nb, max_points)[cell] < points)
        assert (f"- {cell}: {failed / n:.0%} failed ({failed}/{n})." in wrong) == (failed > 0), cell


@pytest.mark.slow
def test_failure_reasons_are_the_trusted_runs_and_the_graders_messages(class_course):
    failures = class_summary(class_course[0], ASSIGNMENT).failures["test_backward_hidden_layer"]
    assert sum(k for reason, k in failures.items() if "the kernel died in backward" in reason) == 1, failures
    assert sum(k for reason, k in failures.items() if reason.startswith("grad W1 ")) == 1, failures  # no-relu-mask


@pytest.mark.slow
@pytest.mark.parametrize("chart", ["score_histogram.png", "pass_rates.png", "failure_reasons.png"])
def test_chart_is_a_small_png(class_course, chart):
    course = class_course[0]
    path = course / "reports" / ASSIGNMENT / chart
    with Image.open(path) as image:
        assert image.format == "PNG" and 400 <= image.width <= 1200 and 200 <= image.height <= 1200, image.size
    assert path.stat().st_size < 150_000, f"{chart} is {path.stat().st_size} bytes"


def feedback_files(course):
    return sorted((course / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))


@pytest.mark.slow
def test_feedback_is_written_for_every_submission_that_ran(class_course):
    course = class_course[0]
    students = {path.parent.parent.name for path in feedback_files(course)}
    assert students == set(STUDENTS) - {"missing", "broken"}


@pytest.mark.slow
def test_no_feedback_file_contains_hidden_test_code(class_course, source_nb):
    course = class_course[0]
    secrets = hidden_test_lines(source_nb)
    assert len(secrets) > 100, f"only {len(secrets)} hidden-test lines: the source should have hidden tests"
    for path in feedback_files(course):
        text = page_text(path)
        shown = sorted(secret for secret in secrets if secret in text)
        assert not shown, f"{path.relative_to(course)} shows hidden test code: {shown[:3]}"
        assert "HIDDEN TESTS" not in text, f"{path.relative_to(course)} shows a hidden-tests marker"


@pytest.mark.slow
def test_feedback_shows_the_message_of_a_failing_hidden_check(class_course):
    course = class_course[0]
    autograded = read(course / "autograded" / "fixed-learning-rate" / ASSIGNMENT / NOTEBOOK)
    cell = next(c for c in autograded.cells if nbgrader_meta(c).get("grade_id") == "test_sgd_update")
    error = next(o for o in cell.outputs if o.output_type == "error")
    assert "hidden" in error.evalue, "the visible checks should pass and a hidden check fail"
    # feedback shows the referee's run of the cell (its hidden check drew its own inputs), never the kernel's
    refereed = cell.metadata["coursekit"]["referee"]["error"]
    assert "hidden" in refereed, "the hidden check should fail in the referee's run too"
    text = page_text(course / "feedback" / "fixed-learning-rate" / ASSIGNMENT / "backprop.html")
    assert normalise(refereed) in text


@pytest.mark.slow
def test_output_that_shows_hidden_code_is_removed_from_feedback(class_course, source_nb):
    course = class_course[0]
    autograded = read(course / "autograded" / "prints-notebook" / ASSIGNMENT / NOTEBOOK)
    printed = normalise("".join(o.get("text", "") for o in cell_named(autograded, "sgd_update").outputs))
    assert any(secret in printed for secret in hidden_test_lines(source_nb)), "nothing leaked to remove"
    text = page_text(course / "feedback" / "prints-notebook" / ASSIGNMENT / "backprop.html")
    # the cell ran after the first hidden test, so with the referee on its kernel output is not shown at all (the
    # filter for outputs that show hidden code is test_feedback_preprocessor_drops_an_output_that_shows_hidden_code)
    assert "[output not shown in feedback: this cell ran after the hidden tests" in text
    assert not [secret for secret in hidden_test_lines(source_nb) if secret in text], "hidden test code in feedback"


@pytest.mark.slow
def test_state_file_keeps_every_outcome(class_course):
    course = class_course[0]
    state = json.loads((course / "autograded" / ".coursekit" / f"{ASSIGNMENT}.json").read_text())
    assert sorted(state["students"]) == sorted(STUDENTS)
    assert {s for s, o in state["students"].items() if o["reason"]} == set(NEEDS_ATTENTION)


# ---------------------------------------------------------------- the feedback preprocessor on its own

def autograded_like(source_nb):
    """A copy of the source notebook as nbgrader leaves it after autograding: full test cells with outputs."""
    import copy
    return copy.deepcopy(source_nb)


def hide(nb):
    return HideHiddenTests().preprocess(nb, {})[0]


def cell_named(nb, grade_id):
    return next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)


def test_feedback_preprocessor_removes_the_hidden_regions_of_test_cells(source_nb):
    nb = hide(autograded_like(source_nb))
    cell = cell_named(nb, "test_relu")
    assert "HIDDEN TESTS" not in cell.source and "hidden_check_relu" not in cell.source
    assert cell.source.startswith("check_relu(relu)") and "not shown" in cell.source


def test_feedback_preprocessor_reduces_a_test_cell_error_to_its_name_and_message(source_nb):
    from nbformat.notebooknode import NotebookNode
    nb = autograded_like(source_nb)
    cell_named(nb, "test_relu").outputs = [NotebookNode(
        output_type="error", ename="AssertionError", evalue="relu gives wrong values (hidden check, seed 1)",
        traceback=["Traceback", "----> 21 hidden_check_relu(relu, np.random.SeedSequence().entropy)"])]
    output = cell_named(hide(nb), "test_relu").outputs[0]
    assert output.traceback == ["AssertionError: relu gives wrong values (hidden check, seed 1)"]


def test_feedback_preprocessor_drops_an_output_that_shows_hidden_code(source_nb):
    from nbformat.notebooknode import NotebookNode
    nb = autograded_like(source_nb)
    leaked = "\n".join(hidden_blocks(cell_named(nb, "test_sgd_update").source))
    cell_named(nb, "sgd_update").outputs = [NotebookNode(output_type="stream", name="stdout", text=leaked)]
    output = cell_named(hide(nb), "sgd_update").outputs[0]
    assert output.text == "[output removed: it showed hidden test code]\n"


def test_feedback_preprocessor_keeps_ordinary_outputs(source_nb):
    from nbformat.notebooknode import NotebookNode
    nb = autograded_like(source_nb)
    text = "epoch 100 | loss 0.2931 | train acc 0.880\nTest accuracy: 0.933\n"
    cell_named(nb, "run_training").outputs = [NotebookNode(output_type="stream", name="stdout", text=text)]
    assert cell_named(hide(nb), "run_training").outputs[0].text == text


# ---------------------------------------------------------------- running again

@pytest.fixture
def class_copy(class_course, tmp_path):
    """A private copy of the graded class course (gradebook, state, autograded and feedback folders)."""
    return shutil.copytree(class_course[0], tmp_path / "course")


def graded_lines(process):
    return re.findall(r"^\[\d+/\d+\] (\S+):", process.stdout, flags=re.M)


@pytest.mark.slow
def test_running_again_grades_nothing_when_nothing_changed(class_copy):
    process = run_grade(class_copy)
    assert graded_lines(process) == [], process.stdout
    assert f"{len(STUDENTS)} submission(s) unchanged" in process.stdout


@pytest.mark.slow
def test_running_again_still_lists_the_submissions_needing_attention(class_copy):
    process = run_grade(class_copy)
    assert process.returncode == 1 and set(re.findall(r"^  (\S+): ", process.stdout, flags=re.M)) == set(
        NEEDS_ATTENTION), process.stdout


@pytest.mark.slow
def test_running_again_grades_only_the_changed_submission(class_copy, source_nb, release_nb, max_points):
    submit(class_copy, "untouched", build_submission(release_nb, reference_answers(source_nb)))
    process = run_grade(class_copy)
    assert graded_lines(process) == ["untouched"], process.stdout
    assert sum(total_scores(snapshot(class_copy, ASSIGNMENT)["untouched"]).values()) == sum(max_points.values())


@pytest.mark.slow
def test_an_interrupted_run_is_finished_by_the_next_one(class_copy, source_nb, max_points):
    again = ["correct", "no-relu-mask", "untouched"]
    command = [sys.executable, "-m", "coursekit", "--course", str(class_copy), "grade", "--workers", "1"]
    # Ctrl-C's default action, even when this test runs in a background job that ignores SIGINT (a shell's `&`
    # does that, and a process keeps an ignored SIGINT ignored: the command could then not be interrupted)
    process = subprocess.Popen(command + [arg for s in again for arg in ("--student", s)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=nbgrader_env(),
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = process.stdout.readline()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "interrupted" in err, first + out + err
    finished = graded_lines(subprocess.CompletedProcess(command, 0, first + out))
    rerun = run_grade(class_copy)
    assert sorted(finished + graded_lines(rerun)) == sorted(again), rerun.stdout
    grades = snapshot(class_copy, ASSIGNMENT)
    for student in again:
        scores = {c: v for c, v in total_scores(grades[student]).items() if c in max_points}
        assert scores == expected_scores(student, source_nb, max_points), student
    assert processes_in(class_copy) == [], "a process of the interrupted run is still running"


@pytest.mark.slow
def test_student_option_grades_that_submission_again(class_copy):
    process = run_grade(class_copy, "--student", "correct")
    assert graded_lines(process) == ["correct"], process.stdout


# ---------------------------------------------------------------- the time limit per submission

@pytest.fixture(scope="module")
def looping_course(tmp_path_factory, source_nb, release_nb):
    """A course with one submission whose sgd_update cell loops forever and ignores interrupts (not graded)."""
    course = new_course(tmp_path_factory.mktemp("looping") / "course")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nc.Referee.enabled = False\n")
    submit(course, "loops", make_notebook(release_nb, reference_answers(source_nb),
                                          {"sgd_update": "+" + LOOP_IGNORING_INTERRUPTS}))
    return course


@pytest.fixture
def looping_copy(looping_course, tmp_path):
    return shutil.copytree(looping_course, tmp_path / "course")


def processes_in(folder):
    """Live processes whose working folder is below folder (a kernel runs in its autograded folder)."""
    found = []
    for process in psutil.process_iter(["cwd", "status", "cmdline"]):
        if process.info["status"] != psutil.STATUS_ZOMBIE and str(process.info["cwd"] or "").startswith(str(folder)):
            found.append(process.info["cmdline"])
    return found


@pytest.mark.slow
def test_time_limit_stops_the_kernel_and_keeps_the_points_of_cells_that_ran(looping_copy, source_nb, max_points):
    run = grade_class(looping_copy, ASSIGNMENT, workers=1, time_limit=15,
                      progress=LineProgress(io.StringIO()))
    assert "15 s time limit" in run.attention["loops"] and "had not run" in run.attention["loops"]
    scores = total_scores(snapshot(looping_copy, ASSIGNMENT)["loops"])
    order = cells_in_order(source_nb)
    assert scores["test_relu"] == max_points["test_relu"], "the first test cell ran before the limit"
    assert all(scores[cell] == 0 for cell in max_points if order.index(cell) > order.index("sgd_update"))


@pytest.mark.slow
def test_a_submission_that_cannot_be_stopped_in_time_gets_zero_and_leaves_no_process(looping_copy, max_points):
    run = grade_class(looping_copy, ASSIGNMENT, workers=1, time_limit=3, grace=0,
                      progress=LineProgress(io.StringIO()))
    assert "nothing could be graded" in run.attention["loops"]
    scores = total_scores(snapshot(looping_copy, ASSIGNMENT)["loops"])
    assert {cell: scores[cell] for cell in max_points} == {cell: 0.0 for cell in max_points}
    assert processes_in(looping_copy) == [], "a kernel of the stopped submission is still running"


# ---------------------------------------------------------------- bad input

def test_unknown_assignment_is_a_one_line_error(tmp_path, capsys):
    course = new_course(tmp_path / "course", generate=False)
    assert main(["--course", str(course), "grade", "no-such-assignment"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, f"not one line: {error!r}"
    assert "'no-such-assignment'" in error, f"does not name the unknown assignment: {error!r}"
    assert f"(there: {ASSIGNMENT})" in error, f"does not name the course's assignment: {error!r}"


@pytest.mark.slow
def test_unknown_student_is_a_one_line_error(class_course, capsys):
    assert main(["--course", str(class_course[0]), "grade", "--student", "nobody"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "nobody" in error, error


def test_a_folder_without_nbgrader_config_is_a_one_line_error(tmp_path, capsys):
    assert main(["--course", str(tmp_path), "grade"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "nbgrader_config.py" in error, error


@pytest.mark.slow
def test_zero_workers_is_refused(class_course, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--course", str(class_course[0]), "grade", "--workers", "0"])
    assert exit_info.value.code == 2 and "--workers" in capsys.readouterr().err


@pytest.mark.slow  # starts the whole command line in a new Python (unit/test_cli.py checks the parser)
def test_grade_help_documents_every_option():
    process = subprocess.run([sys.executable, "-m", "coursekit", "grade", "--help"], capture_output=True, text=True,
                             cwd=REPO)
    for option in ["--workers", "--timeout", "--student", "--force"]:
        assert option in process.stdout, option


@pytest.mark.slow
def test_a_second_grade_command_on_the_same_course_is_refused(class_course, capsys):
    with only_run(State(class_course[0], ASSIGNMENT)):
        assert main(["--course", str(class_course[0]), "grade"]) == 2
    assert "another grade command is grading this assignment" in capsys.readouterr().err


def test_a_broken_nbgrader_config_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = = 1\n")
    assert main(["--course", str(tmp_path), "grade"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "nbgrader_config.py could not be loaded" in error, error


# ---------------------------------------------------------------- PostgreSQL (a real server, started by the test)


@pytest.fixture(scope="module")  # module scope: set up (or skipped) before the class is graded
def postgres_database():
    """The URL of a new, empty PostgreSQL database, dropped after: on the server that COURSEKIT_TEST_POSTGRES_URL
    names if it is set, else on one started for the test (support/postgres.py, which skips the test only when the
    server binaries are missing) and stopped after."""
    from contextlib import nullcontext
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from support.postgres import postgres_server
    given = os.environ.get("COURSEKIT_TEST_POSTGRES_URL")
    with nullcontext(given) if given else postgres_server() as server:
        name = f"coursekit_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


@pytest.mark.slow
def test_grades_on_postgresql_equal_those_on_sqlite(postgres_database, class_course, class_grades, tmp_path):
    """Grading in parallel on PostgreSQL records what grading on SQLite recorded."""
    students = ["correct", "untouched", "no-relu-mask", "exits", "segfaults", "missing", "broken"]
    course = tmp_path / "course"
    shutil.copytree(REPO / "source", course / "source")
    shutil.copy(class_course[0] / "nbgrader_config.py", course / "nbgrader_config.py")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {postgres_database!r}\n")
    generate_assignment(course, ASSIGNMENT)
    for student in students:
        shutil.copytree(class_course[0] / "submitted" / student, course / "submitted" / student)
    process = run_grade(course, "--workers", "2")
    assert process.returncode == 1, process.stdout + process.stderr
    assert not (course / "gradebook.db").exists(), "the grades went to SQLite, not PostgreSQL"
    assert snapshot(course, ASSIGNMENT) == {s: class_grades[s] for s in students}
