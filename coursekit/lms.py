"""LMS courses (Canvas, Moodle): submissions in from the LMS's zip, grades out in the LMS's own import file.

Every LMS format the kit knows lives in this one module: the file names of a "download all submissions" zip,
the roster (the LMS's gradebook export) and the grade file written back from it.

**Who is who.** The roster maps LMS users to the kit's student ids (the folder names of submitted/):

- Canvas: the gradebook CSV (Grades > Export > Export Entire Gradebook), columns ``Student, ID, SIS User ID,
  SIS Login ID, Section, <assignment columns>``. A zip file's USERID is the ``ID`` column. The student id is
  the ``SIS Login ID``, or the ``SIS User ID`` when that is empty, or the ``ID`` when both are.
- Moodle: the assignment's grading worksheet (View all submissions > Grading action > Download grading
  worksheet), columns ``Identifier`` (``Participant N``), ``Full name``, ``Email address``, ``Grade``, ...
  A zip folder's PARTICIPANTID is the N of ``Participant N``. The student id is the local part of the email
  address (``ada`` for ada@uni.edu), the whole address when two students of the roster share a local part,
  or ``participant-N`` when the email is empty.

Characters other than letters, digits and ``._@+-`` in a student id become ``_``, so every id is a folder name.

**Collecting** (``python -m coursekit collect ASSIGNMENT --lms canvas|moodle ZIP --roster CSV``) writes
``submitted/<student>/<assignment>/<notebook>.ipynb`` and, next to it, every other file the student submitted.
The names in the zip:

- Canvas: ``loginname_USERID_SUBMISSIONID_file.ipynb``; ``loginname_LATE_USERID_SUBMISSIONID_file.ipynb``
  for late work; ``file-1.ipynb``, ``file-2.ipynb``, ... for resubmissions. The latest counts: the highest
  resubmission number, then the highest SUBMISSIONID.
- Moodle: ``Full Name_PARTICIPANTID_assignsubmission_file_/file.ipynb`` (or, downloaded without folders,
  ``Full Name_PARTICIPANTID_assignsubmission_file_file.ipynb``); of several notebooks, the newest by the
  zip entry's date counts.

When the assignment has one notebook, the student's notebook is saved under that name whatever they called
it (the renaming is listed). A file that matches no one, a notebook of a name the assignment does not have,
a roster student with no file, late work and superseded files are all listed in the command's output. A
student's folder that differs from what the zip holds is replaced by the zip's files; an unchanged one is left
as it is, so the grade command does not grade it again.

nbgrader's own ``zip_collect`` fits only partly, so it is not used: its file-name plug-in takes one regular
expression that must yield the student id, but the ids here come from the roster (a Canvas USERID or a Moodle
participant number is not a student id); it skips a file that matches no one with a log warning instead of
listing it; it orders duplicates only by a timestamp in the file name, which Canvas's names do not carry (their
order is the resubmission number) and which fails outright without one; and it needs the zip copied into
``downloaded/<assignment>/archive/`` first. Its extraction step is a plain unzip, done here with zipfile.

**Grade files** (``python -m coursekit report ASSIGNMENT --lms canvas|moodle --roster CSV``) are the roster
with the assignment's points filled in, every other row, column and cell as exported, so the LMS imports it
as it is (Canvas: Grades > Import; Moodle: Grading action > Upload grading worksheet):

- Canvas: the assignment's column, the one whose title (without Canvas's `` (id)``) is the assignment's name,
  or else starts with it, or the one named by ``--column``; its ``Points Possible`` row is kept.
- Moodle: the ``Grade`` column (or ``--column``).

The points are each student's total in the gradebook. A roster student with no graded submission gets an
empty cell (the LMS then leaves the grade alone), or 0 with ``--missing-as-zero``.
"""
import csv
import io
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import KitError

LMS_NAMES = ("canvas", "moodle")
GRADE_FILES = {"canvas": "canvas_grades.csv", "moodle": "moodle_grades.csv"}
ROSTER_HELP = {
    "canvas": "export it from Canvas with Grades > Export > Export Entire Gradebook",
    "moodle": "download it from Moodle with View all submissions > Grading action > Download grading worksheet",
}
ZIP_HELP = {
    "canvas": "download it from Canvas with the assignment's 'Download Submissions'",
    "moodle": "download it from Moodle with the assignment's 'Download all submissions'",
}
# Files an OS or an archiver adds that nobody submitted.
JUNK = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$|\.ipynb_checkpoints/)")

CANVAS_NAME = re.compile(r"^(?P<login>.+?)_(?P<late>LATE_)?(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$")
MOODLE_NAME = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_/?(?P<file>.+)$")
RESUBMISSION = re.compile(r"^(?P<stem>.+?)-(?P<number>\d+)$")


def check_lms(lms):
    """lms, lower-cased, or KitError when the kit does not know it."""
    if lms is None or lms.lower() not in LMS_NAMES:
        raise KitError(f"unknown LMS {lms!r}: use --lms canvas or --lms moodle")
    return lms.lower()


def safe_id(text):
    """A student id usable as a folder name: characters other than letters, digits and ._@+- become _."""
    cleaned = re.sub(r"[^A-Za-z0-9._@+-]", "_", text.strip()).lstrip(".")
    return cleaned or "_"


# ---------------------------------------------------------------------------------------------- file names

@dataclass
class LmsFile:
    """One file of an LMS download, as its name (and date) tell."""
    entry: str           # the name in the zip
    user: str            # Canvas USERID or Moodle PARTICIPANTID
    display: str         # Canvas's login name or Moodle's full name, for messages
    name: str            # the file as the student named it, Canvas's resubmission number taken off
    order: tuple         # larger is newer
    late: bool = False


def split_resubmission(name):
    """(name without Canvas's ``-N`` resubmission number, N or 0): ``relu-2.ipynb`` -> (``relu.ipynb``, 2)."""
    path = PurePosixPath(name)
    match = RESUBMISSION.match(path.stem)
    if not match:
        return name, 0
    return match["stem"] + path.suffix, int(match["number"])


def parse_canvas(entry):
    """The LmsFile of a Canvas download's entry, or None when its name is not in Canvas's form."""
    match = CANVAS_NAME.match(PurePosixPath(entry).name)
    if not match or "/" in entry.strip("/"):
        return None
    name, number = split_resubmission(match["file"])
    return LmsFile(entry, match["user"], match["login"], name, (number, int(match["submission"])),
                   late=bool(match["late"]))


def parse_moodle(entry, date_time=(1980, 1, 1, 0, 0, 0)):
    """The LmsFile of a Moodle download's entry (date_time: the zip entry's), or None when not in Moodle's form.

    Only the ``file`` submission plug-in's files are submissions; online text and the like give None.
    """
    match = MOODLE_NAME.match(entry)
    if not match or match["plugin"] != "file":
        return None
    return LmsFile(entry, match["user"], match["name"], match["file"], (tuple(date_time), entry))


def parse_entry(lms, info):
    """The LmsFile of a zip entry (a zipfile.ZipInfo) of the LMS's download, or None."""
    return parse_canvas(info.filename) if lms == "canvas" else parse_moodle(info.filename, info.date_time)


# ---------------------------------------------------------------------------------------------- rosters

@dataclass
class RosterStudent:
    """One student row of a roster."""
    user: str            # Canvas ID / Moodle participant number: what the zip's names carry
    student_id: str      # the kit's id, the folder name in submitted/
    name: str            # as the LMS shows it
    row: int             # index into Roster.rows


@dataclass
class Roster:
    """An LMS's gradebook export, kept cell for cell so it can be written back as the LMS imports it."""
    lms: str
    path: Path
    header: list
    rows: list                                      # every row after the header, students and others
    students: dict = field(default_factory=dict)    # user -> RosterStudent
    bom: bool = False
    newline: str = "\r\n"

    def by_student_id(self):
        """student id -> RosterStudent."""
        return {s.student_id: s for s in self.students.values()}

    def column(self, title):
        """The index of the column with this title, or None."""
        return self.header.index(title) if title in self.header else None

    def text(self):
        """The roster as CSV text, in the form it was read (BOM and line ends)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator=self.newline)
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return ("\ufeff" if self.bom else "") + out.getvalue()


def read_csv(path, lms):
    """(header, rows, bom, newline) of a CSV file; KitError when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"roster {path}: no such file ({ROSTER_HELP[lms]})")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # Excel's re-save on Windows
    bom = text.startswith("\ufeff")
    text = text.removeprefix("\ufeff")
    newline = "\r\n" if "\r\n" in text else "\n"
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise KitError(f"roster {path} is not a readable CSV file ({error}): {ROSTER_HELP[lms]}") from None
    if not rows:
        raise KitError(f"roster {path} is empty: {ROSTER_HELP[lms]}")
    width = len(rows[0])
    return rows[0], [row + [""] * (width - len(row)) for row in rows[1:] if row], bom, newline


def require_columns(header, needed, path, lms):
    missing = [title for title in needed if title not in header]
    if missing:
        raise KitError(f"roster {path} has no {', '.join(repr(m) for m in missing)} column (its columns: "
                       f"{', '.join(header[:8])}{', ...' if len(header) > 8 else ''}); is it the {lms} export? "
                       f"{ROSTER_HELP[lms]}")


def read_roster(lms, path):
    """The Roster of the LMS's gradebook export at path; KitError when it is not one."""
    lms = check_lms(lms)
    header, rows, bom, newline = read_csv(path, lms)
    header = [title.strip() for title in header]
    roster = Roster(lms, Path(path), header, rows, bom=bom, newline=newline)
    if lms == "canvas":
        require_columns(header, ["Student", "ID"], path, lms)
        name, user = header.index("Student"), header.index("ID")
        sis = [roster.column(title) for title in ("SIS Login ID", "SIS User ID")]
        for i, row in enumerate(rows):
            if not row[user].strip().isdigit():  # "Points Possible", "Manual Posting" and the like
                continue
            choices = [row[c].strip() for c in sis if c is not None] + [row[user].strip()]
            student_id = safe_id(next(choice for choice in choices if choice))
            roster.students[row[user].strip()] = RosterStudent(row[user].strip(), student_id, row[name].strip(), i)
    else:
        require_columns(header, ["Identifier", "Full name", "Grade"], path, lms)
        ident, name, email = header.index("Identifier"), header.index("Full name"), roster.column("Email address")
        locals_ = {}
        for row in rows:
            address = row[email].strip() if email is not None else ""
            if address:
                locals_.setdefault(address.split("@")[0].lower(), set()).add(address.lower())
        for i, row in enumerate(rows):
            match = re.search(r"(\d+)\s*$", row[ident])
            if not match:
                continue
            address = row[email].strip() if email is not None else ""
            local = address.split("@")[0]
            student_id = (local if len(locals_.get(local.lower(), ())) == 1 else address) if address \
                else f"participant-{match[1]}"
            roster.students[match[1]] = RosterStudent(match[1], safe_id(student_id), row[name].strip(), i)
    if not roster.students:
        raise KitError(f"roster {path} lists no student: {ROSTER_HELP[lms]}")
    seen = {}
    for student in roster.students.values():
        if student.student_id in seen:
            raise KitError(f"roster {path}: {seen[student.student_id]} and {student.name} would both be student "
                           f"{student.student_id!r}: give them distinct SIS ids / email addresses in the LMS")
        seen[student.student_id] = student.name
    return roster


# ---------------------------------------------------------------------------------------------- collecting

@dataclass
class Collected:
    """What collect did, to be listed."""
    written: dict = field(default_factory=dict)       # student -> [file names] (new or changed)
    unchanged: list = field(default_factory=list)     # students whose folder already held the same files
    renamed: dict = field(default_factory=dict)       # student -> the name they gave their notebook
    late: list = field(default_factory=list)          # students whose counted files are marked late
    superseded: list = field(default_factory=list)    # (student, zip entry) older files not used
    unmatched: list = field(default_factory=list)     # (zip entry, why) files that match no one
    not_in_assignment: list = field(default_factory=list)  # (student, zip entry) notebooks of unknown names
    no_notebook: list = field(default_factory=list)   # students who submitted files but no notebook
    missing: list = field(default_factory=list)       # roster students with no file: (student id, name)
    ignored: list = field(default_factory=list)       # zip entries that are not submissions (online text, ...)

    @property
    def attention(self):
        """True when something needs the instructor: a file matched no one or a student sent no notebook."""
        return bool(self.unmatched or self.no_notebook or self.not_in_assignment)


def open_zip(path, lms):
    """The zipfile.ZipFile of the download; KitError when it is not a zip."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"{path}: no such file ({ZIP_HELP[lms]})")
    if not zipfile.is_zipfile(path):
        raise KitError(f"{path} is not a zip file: {ZIP_HELP[lms]}")
    return zipfile.ZipFile(path)


def notebook_target(name, notebooks):
    """The assignment notebook (name without .ipynb) a submitted notebook file fills, or None.

    With one notebook in the assignment it is that one, whatever the file is called. With several, the one of
    the same name (case and a copy's `` (1)`` ignored).
    """
    if len(notebooks) == 1:
        return notebooks[0]
    stem = re.sub(r"\s*\(\d+\)$", "", PurePosixPath(name).stem).strip().lower()
    return next((nb for nb in notebooks if nb.lower() == stem), None)


def plan_collection(lms, archive, roster, notebooks):
    """(student id -> {target file name: LmsFile}, Collected with everything that is listed), writing nothing."""
    result = Collected()
    chosen, candidates = {}, {}
    for info in archive.infolist():
        if info.is_dir() or JUNK.search(info.filename):
            continue
        found = parse_entry(lms, info)
        if found is None:
            if lms == "moodle" and MOODLE_NAME.match(info.filename):
                result.ignored.append(info.filename)
            else:
                result.unmatched.append((info.filename, f"not named as {lms} names submissions"))
            continue
        student = roster.students.get(found.user)
        if student is None:
            result.unmatched.append((info.filename, f"{found.display} (user {found.user}) is not in the roster"))
            continue
        if found.name.lower().endswith(".ipynb"):
            target = notebook_target(found.name, notebooks)
            if target is None:
                result.not_in_assignment.append((student.student_id, info.filename))
                continue
            target = f"{target}.ipynb"
        else:
            target = PurePosixPath(found.name).name
            if target in ("", ".", ".."):
                result.unmatched.append((info.filename, "not a file name"))
                continue
        candidates.setdefault(student.student_id, {}).setdefault(target, []).append(found)
    for student, targets in candidates.items():
        chosen[student] = {}
        for target, files in targets.items():
            files.sort(key=lambda f: f.order)
            chosen[student][target] = files[-1]
            result.superseded += [(student, f.entry) for f in files[:-1]]
            if target.endswith(".ipynb") and PurePosixPath(files[-1].name).name != target:
                result.renamed[student] = PurePosixPath(files[-1].name).name
        if any(f.late for f in chosen[student].values()):
            result.late.append(student)
        if not any(target.endswith(".ipynb") for target in chosen[student]):
            result.no_notebook.append(student)
    result.missing = sorted((s.student_id, s.name) for s in roster.students.values()
                            if s.student_id not in chosen and s.student_id not in
                            {student for student, _ in result.not_in_assignment})
    return chosen, result


def folder_contents(folder):
    """relative name -> bytes of the files below folder."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} \
        if folder.is_dir() else {}


def collect(course, assignment, lms, zip_path, roster_path):
    """Turn the LMS's download of the assignment's submissions into submitted/<student>/<assignment>/.

    Returns the Collected record (what was written, and everything that is listed).
    """
    from .course.assignments import notebooks
    from .course.config import course_directory
    lms = check_lms(lms)
    roster = read_roster(lms, roster_path)
    names = notebooks(course, assignment, "release")
    coursedir = course_directory(course)
    with open_zip(zip_path, lms) as archive:
        chosen, result = plan_collection(lms, archive, roster, names)
        for student, files in sorted(chosen.items()):
            contents = {target: archive.read(found.entry) for target, found in files.items()}
            folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
            if folder_contents(folder) == contents:
                result.unchanged.append(student)
                continue
            partial = folder.with_name(folder.name + ".collecting")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            for target, data in contents.items():
                (partial / target).write_bytes(data)
            if folder.exists():
                shutil.rmtree(folder)
            partial.rename(folder)
            result.written[student] = sorted(contents)
    return result


def describe_collected(result, assignment):
    """The collect command's report: counts, then every list that is not empty."""
    total = len(result.written) + len(result.unchanged)
    lines = [f"{total} submission(s) of {assignment} in submitted/: {len(result.written)} new or changed, "
             f"{len(result.unchanged)} unchanged"]

    def section(title, items):
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines.extend(f"  {item}" for item in items)

    section("files that match no one (not collected)", [f"{entry}: {why}" for entry, why in result.unmatched])
    section("notebooks the assignment does not have (not collected)",
            [f"{student}: {entry}" for student, entry in result.not_in_assignment])
    section("submitted files but no notebook (the grade command gives them 0)", result.no_notebook)
    section("roster students with no file", [f"{student} ({name})" for student, name in result.missing])
    section("late (marked late by the LMS)", sorted(result.late))
    section("notebooks saved under the assignment's name",
            [f"{student}: {name}" for student, name in sorted(result.renamed.items())])
    section("older submissions not used (a newer one counts)",
            [f"{student}: {entry}" for student, entry in result.superseded])
    section("not submissions (ignored)", result.ignored)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- grade files

def canvas_column(roster, assignment, column=None):
    """The index of the assignment's column in a Canvas roster; KitError when it is missing or unclear."""
    def bare(title):
        return re.sub(r"\s*\(\d+\)$", "", title).strip().lower()
    if column is not None:
        found = [i for i, title in enumerate(roster.header) if title == column or bare(title) == column.lower()]
    else:
        found = [i for i, title in enumerate(roster.header) if bare(title) == assignment.lower()] or \
                [i for i, title in enumerate(roster.header) if title.lower().startswith(assignment.lower())]
    if len(found) == 1:
        return found[0]
    fixed = {"Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Integration ID", "Root Account"}
    others = [title for title in roster.header if title not in fixed]
    if not found:
        raise KitError(f"roster {roster.path} has no column for {column or assignment!r} (assignment columns: "
                       f"{', '.join(others[:12]) or 'none'}): pass --column TITLE, or create the assignment in "
                       "Canvas and export the gradebook again")
    raise KitError(f"roster {roster.path} has several columns for {assignment!r} "
                   f"({', '.join(roster.header[i] for i in found)}): pick one with --column TITLE")


def grade_column(roster, assignment, column=None):
    """The index of the column the LMS imports the assignment's grade from."""
    if roster.lms == "canvas":
        return canvas_column(roster, assignment, column)
    index = roster.column(column or "Grade")
    if index is None:
        raise KitError(f"roster {roster.path} has no column {column or 'Grade'!r}: {ROSTER_HELP['moodle']}")
    return index


def format_points(points, lms):
    """Points as the LMS's export writes them: Canvas 12.5, Moodle 12.50."""
    return f"{points:.2f}" if lms == "moodle" else f"{round(points, 4):g}"


@dataclass
class GradeFile:
    """What writing the grade file did, to be listed."""
    path: Path
    column: str
    filled: int
    empty: list            # roster students without a graded submission: (student id, name)
    not_in_roster: list    # graded students the roster does not list
    warnings: list


def fill_grades(roster, assignment, totals, max_total, column=None, missing_as_zero=False):
    """Fill the roster's grade column from totals (student id -> points); returns (column title, filled,
    empty, not in roster, warnings). Changes roster.rows."""
    index = grade_column(roster, assignment, column)
    filled, empty, warnings = 0, [], []
    for student in roster.students.values():
        row = roster.rows[student.row]
        if student.student_id in totals:
            row[index] = format_points(totals[student.student_id], roster.lms)
            filled += 1
        else:
            row[index] = format_points(0.0, roster.lms) if missing_as_zero else ""
            empty.append((student.student_id, student.name))
    if roster.lms == "canvas":
        for row in roster.rows:
            if row[roster.header.index("Student")].strip().lower() == "points possible":
                try:
                    possible = float(row[index])
                except ValueError:
                    continue
                if abs(possible - max_total) > 1e-9:
                    warnings.append(f"Canvas's {roster.header[index]!r} is out of {possible:g} points, the "
                                    f"assignment of {max_total:g}: the points are written as they are, not "
                                    "scaled; set the assignment's points in Canvas to match")
    else:
        top = roster.column("Maximum Grade")
        values = {row[top].strip() for row in roster.rows if top is not None and row[top].strip()}
        for value in values:
            try:
                if abs(float(value) - max_total) > 1e-9:
                    warnings.append(f"Moodle's Maximum Grade is {value}, the assignment's {max_total:g} points: "
                                    "the points are written as they are, not scaled; set the Moodle assignment's "
                                    "maximum grade to match")
            except ValueError:
                pass
    rostered = {s.student_id for s in roster.students.values()}
    not_in_roster = sorted(set(totals) - rostered)
    return roster.header[index], filled, sorted(empty), not_in_roster, warnings


def write_grade_file(course, assignment, lms, roster_path, column=None, missing_as_zero=False):
    """Write reports/<assignment>/<lms>_grades.csv from the gradebook and the roster; returns the GradeFile."""
    from .report.summary import class_summary
    roster = read_roster(lms, roster_path)
    summary = class_summary(course, assignment)
    totals = {student: summary.total(student) for student in summary.scores}
    title, filled, empty, not_in_roster, warnings = fill_grades(roster, assignment, totals, summary.max_total,
                                                                column, missing_as_zero)
    path = Path(course) / "reports" / assignment / GRADE_FILES[roster.lms]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(roster.text().encode("utf-8"))
    return GradeFile(path, title, filled, empty, not_in_roster, warnings)


def describe_grade_file(grades, missing_as_zero=False):
    """Lines saying what the grade file holds and what to look at."""
    lines = [f"{grades.path.name}: column {grades.column!r}, {grades.filled} student(s) graded"]
    if grades.empty:
        lines.append(f"no graded submission ({len(grades.empty)}, "
                     f"{'0 points' if missing_as_zero else 'empty cell; --missing-as-zero gives them 0'}):")
        lines += [f"  {student} ({name})" for student, name in grades.empty]
    if grades.not_in_roster:
        lines.append(f"graded but not in the roster, so not in the file ({len(grades.not_in_roster)}):")
        lines += [f"  {student}" for student in grades.not_in_roster]
    lines += [f"warning: {warning}" for warning in grades.warnings]
    return lines
