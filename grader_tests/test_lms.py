"""LMS courses: Canvas and Moodle zips in (collect), the LMS's own grade file out (report --lms).

Fast unit tests of the formats in coursekit/lms.py, and one slow end to end run: a Canvas zip and a Moodle zip
go through collect, grade (2 workers) and report --lms, and the grade files are read back student by student.
"""
import csv
import io
import shutil
import subprocess
import sys
import zipfile

import pytest

from coursekit import KitError
from coursekit.cli import main
from coursekit.course.notebooks import build_submission, read, reference_answers
from coursekit.lms import (Roster, collect, describe_collected, fill_grades, parse_canvas, parse_moodle,
                           read_roster, split_resubmission)
from support.answers import BACKWARD_WITHOUT_RELU_MASK
from support.course import ASSIGNMENT, NOTEBOOK, RELEASE, REPO, SOURCE, new_course

CANVAS_ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,backprop (4242),week2 (4243),Current Score\r\n"
    "    Points Possible,,,,,14.00,10.00,(read only)\r\n"
    '"Lovelace, Ada",101,S1,ada,Sec 1,,,\r\n'
    '"Babbage, Bob",102,S2,,Sec 1,,8,\r\n'
    '"Cy, Cy",103,,,Sec 1,,,\r\n'
    '"Dan, Dan",104,S4,dan,Sec 2,3,,\r\n'
    '"Student, Test",105,,,Sec 1,,,\r\n'
)
MOODLE_ROSTER = (
    "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
    "Last modified (submission),Last modified (grade),Feedback comments\n"
    'Participant 501,Eve Adams,eve@uni.edu,Submitted for grading,,14.00,Yes,"Monday, 1 June 2026, 10:00 AM",-,\n'
    'Participant 502,Fay Brown,fay@uni.edu,Submitted for grading,,14.00,Yes,"Monday, 1 June 2026, 11:00 AM",-,\n'
    "Participant 503,Gus Chen,gus@other.edu,No submission,,14.00,Yes,-,-,\n"
)


def write(path, text):
    path.write_text(text, newline="")
    return path


def make_zip(path, entries):
    """entries: (name, bytes) or (name, bytes, date_time)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, *date in entries:
            archive.writestr(zipfile.ZipInfo(name, date[0] if date else (2026, 6, 1, 12, 0, 0)), data)
    return path


def read_csv(path):
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


# ----------------------------------------------------------------------------------------- file names

def test_canvas_names_give_user_submission_late_and_resubmission():
    plain = parse_canvas("lovelaceada_101_9001_backprop.ipynb")
    assert (plain.user, plain.display, plain.name, plain.order, plain.late) == \
        ("101", "lovelaceada", "backprop.ipynb", (0, 9001), False)
    late = parse_canvas("cycy_LATE_103_9005_backprop-2.ipynb")
    assert (late.user, late.name, late.order, late.late) == ("103", "backprop.ipynb", (2, 9005), True)
    assert parse_canvas("my_notes_102_77_notes_v1.txt").user == "102"
    assert parse_canvas("backprop.ipynb") is None
    assert parse_canvas("folder/lovelaceada_101_9001_backprop.ipynb") is None


def test_resubmission_numbers_come_off_the_name_only():
    assert split_resubmission("backprop-1.ipynb") == ("backprop.ipynb", 1)
    assert split_resubmission("backprop-12.ipynb") == ("backprop.ipynb", 12)
    assert split_resubmission("backprop.ipynb") == ("backprop.ipynb", 0)
    assert split_resubmission("back-prop.ipynb") == ("back-prop.ipynb", 0)


def test_moodle_names_with_and_without_folders():
    found = parse_moodle("Eve Adams_501_assignsubmission_file_/backprop.ipynb", (2026, 6, 1, 10, 0, 0))
    assert (found.user, found.display, found.name) == ("501", "Eve Adams", "backprop.ipynb")
    flat = parse_moodle("Eve Adams_501_assignsubmission_file_backprop.ipynb")
    assert (flat.user, flat.name) == ("501", "backprop.ipynb")
    assert parse_moodle("Eve Adams_501_assignsubmission_onlinetext_/onlinetext.html") is None
    assert parse_moodle("backprop.ipynb") is None
    newer = parse_moodle("Eve Adams_501_assignsubmission_file_/b.ipynb", (2026, 6, 2, 9, 0, 0))
    assert newer.order > found.order


# ----------------------------------------------------------------------------------------- rosters

def test_canvas_roster_maps_users_to_sis_login_then_sis_user_then_id(tmp_path):
    roster = read_roster("canvas", write(tmp_path / "r.csv", CANVAS_ROSTER))
    assert {u: s.student_id for u, s in roster.students.items()} == \
        {"101": "ada", "102": "S2", "103": "103", "104": "dan", "105": "105"}
    assert roster.students["101"].name == "Lovelace, Ada"
    assert roster.rows[0][0].strip() == "Points Possible", "the Points Possible row is kept as a row"


def test_moodle_roster_maps_participants_to_email_local_parts(tmp_path):
    text = MOODLE_ROSTER + "Participant 504,Eve Other,eve@other.edu,No submission,,14.00,Yes,-,-,\n" \
                           "Participant 505,No Mail,,No submission,,14.00,Yes,-,-,\n"
    roster = read_roster("moodle", write(tmp_path / "w.csv", text))
    assert {u: s.student_id for u, s in roster.students.items()} == {
        "501": "eve@uni.edu", "502": "fay", "503": "gus", "504": "eve@other.edu", "505": "participant-505"}


def test_roster_of_the_wrong_kind_or_lms_says_what_to_export(tmp_path):
    canvas = write(tmp_path / "canvas.csv", CANVAS_ROSTER)
    with pytest.raises(KitError, match="no 'Identifier', 'Full name', 'Grade' column.*grading worksheet"):
        read_roster("moodle", canvas)
    with pytest.raises(KitError, match="no 'Student', 'ID' column.*Export Entire Gradebook"):
        read_roster("canvas", write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    with pytest.raises(KitError, match="no such file"):
        read_roster("canvas", tmp_path / "absent.csv")
    with pytest.raises(KitError, match="unknown LMS 'blackboard': use --lms canvas or --lms moodle"):
        read_roster("blackboard", canvas)


def test_roster_whose_students_share_an_id_is_refused(tmp_path):
    text = CANVAS_ROSTER + '"Lovelace, Ada II",106,S6,ada,Sec 1,,,\r\n'
    with pytest.raises(KitError, match="would both be student 'ada'"):
        read_roster("canvas", write(tmp_path / "r.csv", text))


# ----------------------------------------------------------------------------------------- collecting

@pytest.fixture
def mini_course(tmp_path):
    """A course folder with nbgrader_config.py, source/ and release/ (no gradebook: collect needs none)."""
    course = tmp_path / "course"
    shutil.copytree(SOURCE, course / "source" / ASSIGNMENT)
    shutil.copytree(RELEASE, course / "release" / ASSIGNMENT)
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    return course


def test_canvas_collect_takes_the_latest_and_lists_everything_else(mini_course, tmp_path):
    roster = write(tmp_path / "r.csv", CANVAS_ROSTER)
    download = make_zip(tmp_path / "submissions.zip", [
        ("lovelaceada_101_9001_backprop.ipynb", b"ada's notebook"),
        ("lovelaceada_101_9002_notes.txt", b"ada's notes"),
        ("babbagebob_102_9003_My Backprop (1).ipynb", b"bob's notebook"),
        ("cycy_LATE_103_9004_backprop.ipynb", b"cy first"),
        ("cycy_LATE_103_9006_backprop-2.ipynb", b"cy third"),
        ("cycy_LATE_103_9005_backprop-1.ipynb", b"cy second"),
        ("strangerx_999_9100_backprop.ipynb", b"who?"),
        ("readme.txt", b"not a submission"),
        ("lovelaceada_101_9007_..", b"no way out"),
        ("__MACOSX/._x", b""),
    ])
    result = collect(mini_course, ASSIGNMENT, "canvas", download, roster)
    submitted = mini_course / "submitted"
    assert (submitted / "ada" / ASSIGNMENT / NOTEBOOK).read_bytes() == b"ada's notebook"
    assert (submitted / "ada" / ASSIGNMENT / "notes.txt").read_bytes() == b"ada's notes"
    assert (submitted / "S2" / ASSIGNMENT / NOTEBOOK).read_bytes() == b"bob's notebook"
    assert (submitted / "103" / ASSIGNMENT / NOTEBOOK).read_bytes() == b"cy third", "the latest resubmission counts"
    assert sorted(p.name for p in submitted.iterdir()) == ["103", "S2", "ada"]
    assert result.late == ["103"]
    assert result.renamed == {"S2": "My Backprop (1).ipynb"}
    assert sorted(e for _, e in result.superseded) == ["cycy_LATE_103_9004_backprop.ipynb",
                                                       "cycy_LATE_103_9005_backprop-1.ipynb"]
    assert [e for e, _ in result.unmatched] == ["strangerx_999_9100_backprop.ipynb", "readme.txt",
                                                "lovelaceada_101_9007_.."]
    assert result.missing == [("105", "Student, Test"), ("dan", "Dan, Dan")]
    assert result.attention
    text = describe_collected(result, ASSIGNMENT)
    for expected in ["3 submission(s) of backprop in submitted/: 3 new or changed, 0 unchanged",
                     "strangerx_999_9100_backprop.ipynb: strangerx (user 999) is not in the roster",
                     "roster students with no file (2):", "  dan (Dan, Dan)", "late (marked late by the LMS) (1):"]:
        assert expected in text, text

    again = collect(mini_course, ASSIGNMENT, "canvas", download, roster)
    assert (again.written, sorted(again.unchanged)) == ({}, ["103", "S2", "ada"]), "an unchanged folder is kept"


def test_moodle_collect_takes_the_newest_notebook_of_a_folder(mini_course, tmp_path):
    roster = write(tmp_path / "w.csv", MOODLE_ROSTER)
    download = make_zip(tmp_path / "moodle.zip", [
        ("Eve Adams_501_assignsubmission_file_/backprop.ipynb", b"eve"),
        ("Eve Adams_501_assignsubmission_onlinetext_/onlinetext.html", b"<p>hi</p>"),
        ("Fay Brown_502_assignsubmission_file_/backprop_final.ipynb", b"fay new", (2026, 6, 2, 9, 0, 0)),
        ("Fay Brown_502_assignsubmission_file_/backprop.ipynb", b"fay old", (2026, 6, 1, 9, 0, 0)),
        ("Fay Brown_502_assignsubmission_file_/data.csv", b"1,2"),
        ("Zed Zero_777_assignsubmission_file_/backprop.ipynb", b"zed"),
    ])
    result = collect(mini_course, ASSIGNMENT, "moodle", download, roster)
    assert (mini_course / "submitted" / "eve" / ASSIGNMENT / NOTEBOOK).read_bytes() == b"eve"
    assert (mini_course / "submitted" / "fay" / ASSIGNMENT / NOTEBOOK).read_bytes() == b"fay new"
    assert (mini_course / "submitted" / "fay" / ASSIGNMENT / "data.csv").read_bytes() == b"1,2"
    assert result.superseded == [("fay", "Fay Brown_502_assignsubmission_file_/backprop.ipynb")]
    assert [e for e, _ in result.unmatched] == ["Zed Zero_777_assignsubmission_file_/backprop.ipynb"]
    assert result.missing == [("gus", "Gus Chen")]
    assert result.ignored == ["Eve Adams_501_assignsubmission_onlinetext_/onlinetext.html"]


def test_a_student_with_files_but_no_notebook_gets_a_folder_and_is_listed(mini_course, tmp_path):
    roster = write(tmp_path / "r.csv", CANVAS_ROSTER)
    download = make_zip(tmp_path / "s.zip", [("lovelaceada_101_9001_backprop.pdf", b"%PDF")])
    result = collect(mini_course, ASSIGNMENT, "canvas", download, roster)
    assert result.no_notebook == ["ada"] and result.attention
    assert (mini_course / "submitted" / "ada" / ASSIGNMENT / "backprop.pdf").exists()


def test_collect_refuses_what_is_not_a_zip(mini_course, tmp_path):
    roster = write(tmp_path / "r.csv", CANVAS_ROSTER)
    with pytest.raises(KitError, match="is not a zip file: download it from Canvas"):
        collect(mini_course, ASSIGNMENT, "canvas", write(tmp_path / "s.zip", "not a zip"), roster)
    with pytest.raises(KitError, match="unknown LMS 'moodel'"):
        collect(mini_course, ASSIGNMENT, "moodel", tmp_path / "s.zip", roster)


def test_collect_command_errors_are_one_line_with_status_2(mini_course, tmp_path, capsys):
    roster = write(tmp_path / "r.csv", MOODLE_ROSTER)
    download = make_zip(tmp_path / "s.zip", [("x", b"")])
    for args, message in [
        (["collect", ASSIGNMENT, str(download), "--lms", "canvas", "--roster", str(roster)], "no 'Student', 'ID'"),
        (["collect", ASSIGNMENT, str(download), "--lms", "sakai", "--roster", str(roster)], "unknown LMS 'sakai'"),
        (["collect", ASSIGNMENT, str(roster), "--lms", "moodle", "--roster", str(roster)], "is not a zip file"),
        (["report", ASSIGNMENT, "--lms", "canvas"], "--lms and --roster go together"),
        (["report", ASSIGNMENT, "--missing-as-zero"], "add --lms canvas|moodle"),
        (["report", ASSIGNMENT, "--lms", "canvas", "--roster", str(roster)], "no 'Student', 'ID'"),
    ]:
        assert main(["--course", str(mini_course), *args]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


def test_collect_command_lists_and_exits_1_when_a_file_matches_no_one(mini_course, tmp_path, capsys):
    roster = write(tmp_path / "r.csv", MOODLE_ROSTER)
    download = make_zip(tmp_path / "s.zip", [("Eve Adams_501_assignsubmission_file_/backprop.ipynb", b"e"),
                                             ("Zed Zero_777_assignsubmission_file_/backprop.ipynb", b"z")])
    args = ["--course", str(mini_course), "collect", str(download), "--lms", "Moodle", "--roster", str(roster)]
    assert main(args) == 1, "the assignment may be left out: the course has one"
    out = capsys.readouterr().out
    assert "Zed Zero (user 777) is not in the roster" in out and "gus (Gus Chen)" in out, out
    assert main(args) == 1 and "0 new or changed, 1 unchanged" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------- grade files

def test_canvas_grade_file_fills_the_assignments_column_and_keeps_the_rest(tmp_path):
    roster = read_roster("canvas", write(tmp_path / "r.csv", CANVAS_ROSTER))
    title, filled, empty, not_in_roster, warnings = fill_grades(
        roster, ASSIGNMENT, {"ada": 14.0, "S2": 0.0, "103": 10.5, "example": 3.0}, 14.0)
    assert (title, filled, not_in_roster, warnings) == ("backprop (4242)", 3, ["example"], [])
    assert empty == [("105", "Student, Test"), ("dan", "Dan, Dan")]
    rows = list(csv.reader(io.StringIO(roster.text(), newline="")))
    assert rows[0] == CANVAS_ROSTER.split("\r\n")[0].split(",")
    assert rows[1] == ["    Points Possible", "", "", "", "", "14.00", "10.00", "(read only)"]
    assert [row[5] for row in rows[2:]] == ["14", "0", "10.5", "", ""], "dan's old 3 is emptied: no submission"
    assert rows[3][6] == "8", "another assignment's column is kept"
    assert roster.text().replace("14,", "", 1).count("\r\n") == CANVAS_ROSTER.count("\r\n"), "Canvas's line ends"


def test_grade_file_missing_as_zero_and_moodle_form(tmp_path):
    roster = read_roster("moodle", write(tmp_path / "w.csv", MOODLE_ROSTER))
    title, filled, empty, _, warnings = fill_grades(roster, ASSIGNMENT, {"eve": 14.0, "fay": 10.0}, 14.0,
                                                    missing_as_zero=True)
    assert (title, filled, empty, warnings) == ("Grade", 2, [("gus", "Gus Chen")], [])
    rows = list(csv.reader(io.StringIO(roster.text(), newline="")))
    assert [row[4] for row in rows[1:]] == ["14.00", "10.00", "0.00"]
    assert rows[1][7] == "Monday, 1 June 2026, 10:00 AM", "other cells as exported"


def test_grade_file_warns_when_the_lms_counts_other_points(tmp_path):
    roster = read_roster("moodle", write(tmp_path / "w.csv", MOODLE_ROSTER.replace("14.00", "100.00")))
    *_, warnings = fill_grades(roster, ASSIGNMENT, {"eve": 14.0}, 14.0)
    assert len(warnings) == 1 and "Maximum Grade is 100.00" in warnings[0]


def test_canvas_column_by_name_by_option_or_an_error_that_says_pass_column(tmp_path):
    text = CANVAS_ROSTER.replace("week2 (4243)", "backprop bonus (4244)")
    roster = read_roster("canvas", write(tmp_path / "r.csv", text))
    assert fill_grades(roster, ASSIGNMENT, {}, 14.0)[0] == "backprop (4242)", "the exact name wins"
    assert fill_grades(roster, ASSIGNMENT, {}, 14.0, column="backprop bonus")[0] == "backprop bonus (4244)"
    ambiguous = read_roster("canvas", write(tmp_path / "a.csv", text.replace("backprop (4242)", "backprop A (1)")))
    with pytest.raises(KitError, match="several columns for 'backprop'.*--column TITLE"):
        fill_grades(ambiguous, ASSIGNMENT, {}, 14.0)
    with pytest.raises(KitError, match="no column for 'week9'.*pass --column TITLE"):
        fill_grades(roster, ASSIGNMENT, {}, 14.0, column="week9")


def test_roster_keeps_its_byte_order_mark(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(("\ufeff" + CANVAS_ROSTER).encode())
    roster = read_roster("canvas", path)
    assert isinstance(roster, Roster) and roster.header[0] == "Student"
    assert roster.text().startswith("\ufeffStudent,ID,")


# ----------------------------------------------------------------------------------------- end to end

def kit(course, *args):
    return subprocess.run([sys.executable, "-m", "coursekit", "--course", str(course), *args],
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_canvas_and_moodle_zips_through_collect_grade_and_report(tmp_path):
    course = new_course(tmp_path / "course")
    release = read(RELEASE / NOTEBOOK)
    reference = reference_answers(read(SOURCE / NOTEBOOK))
    right = nbbytes(build_submission(release, reference))
    untouched = (RELEASE / NOTEBOOK).read_bytes()
    no_mask = nbbytes(build_submission(release, {**reference, "backward": BACKWARD_WITHOUT_RELU_MASK}))
    canvas_zip = make_zip(tmp_path / "canvas.zip", [
        ("lovelaceada_101_9001_backprop.ipynb", right),
        ("babbagebob_102_9002_backprop.ipynb", untouched),
        ("cycy_LATE_103_9003_backprop.ipynb", untouched),
        ("cycy_LATE_103_9004_backprop-1.ipynb", right),
        ("cycy_LATE_103_9005_backprop-2.ipynb", no_mask),
        ("strangerx_999_9100_backprop.ipynb", right),
    ])
    moodle_zip = make_zip(tmp_path / "moodle.zip", [
        ("Eve Adams_501_assignsubmission_file_/backprop.ipynb", right),
        ("Fay Brown_502_assignsubmission_file_/backprop.ipynb", right, (2026, 6, 1, 9, 0, 0)),
        ("Fay Brown_502_assignsubmission_file_/backprop_v2.ipynb", no_mask, (2026, 6, 2, 9, 0, 0)),
        ("Zed Zero_777_assignsubmission_file_/backprop.ipynb", right),
    ])
    canvas_roster = write(tmp_path / "canvas.csv", CANVAS_ROSTER)
    moodle_roster = write(tmp_path / "moodle.csv", MOODLE_ROSTER)

    for lms, download, roster, unknown, absent in [("canvas", canvas_zip, canvas_roster, "strangerx", "dan"),
                                                   ("moodle", moodle_zip, moodle_roster, "Zed Zero", "gus")]:
        process = kit(course, "collect", ASSIGNMENT, str(download), "--lms", lms, "--roster", str(roster))
        assert process.returncode == 1, process.stdout + process.stderr  # a file matched no one
        assert unknown in process.stdout and absent in process.stdout, process.stdout
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["103", "S2", "ada", "eve", "fay"]

    process = kit(course, "grade", ASSIGNMENT, "--workers", "2")
    # 1 would only mean that some submission needs a look (listed); the scores are checked below
    assert process.returncode in (0, 1) and "[5/5]" in process.stdout, process.stdout + process.stderr

    process = kit(course, "report", ASSIGNMENT, "--no-feedback", "--lms", "canvas", "--roster", str(canvas_roster))
    assert process.returncode == 0, process.stdout + process.stderr
    assert "canvas_grades.csv: column 'backprop (4242)', 3 student(s) graded" in process.stdout, process.stdout
    rows = read_csv(course / "reports" / ASSIGNMENT / "canvas_grades.csv")
    assert rows[1] == ["    Points Possible", "", "", "", "", "14.00", "10.00", "(read only)"]
    assert {row[3] or row[1]: row[5] for row in rows[2:]} == {
        "ada": "14", "102": "0", "103": "10", "dan": "", "105": ""}, "student by student"

    process = kit(course, "report", ASSIGNMENT, "--no-feedback", "--lms", "moodle", "--roster", str(moodle_roster),
                  "--missing-as-zero")
    assert process.returncode == 0, process.stdout + process.stderr
    rows = read_csv(course / "reports" / ASSIGNMENT / "moodle_grades.csv")
    assert {row[2]: row[4] for row in rows[1:]} == {"eve@uni.edu": "14.00", "fay@uni.edu": "10.00",
                                                     "gus@other.edu": "0.00"}
    assert rows[0] == MOODLE_ROSTER.split("\n")[0].split(",")


def nbbytes(nb):
    import nbformat
    return nbformat.writes(nb).encode()
