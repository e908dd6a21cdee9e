"""The one reader (and, for zero grades, writer) of the course's gradebook, through nbgrader's Gradebook API.

Several grading processes write to one gradebook at once. nbgrader keeps its sessions short (one commit per
cell); on SQLite a writer that finds the file locked waits for it (``WAIT_FOR_LOCK_MS``) instead of failing
after Python's default 5 seconds, and the worker retries a submission that still failed on a lock. PostgreSQL
needs neither.

Importing this module also makes nbgrader stamp a new gradebook with its schema's revision read in-process
(``schema_head``), instead of running ``alembic heads`` as a program.
"""
import functools
import sqlite3
import warnings
from pathlib import Path

import nbgrader.api
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SAWarning

from ..errors import KitError
from .config import course_directory

WAIT_FOR_LOCK_MS = 120_000


@event.listens_for(Engine, "connect")
def wait_for_sqlite_locks(dbapi_connection, connection_record):
    """Make every SQLite connection of this process wait for a locked gradebook instead of failing."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute(f"PRAGMA busy_timeout = {WAIT_FOR_LOCK_MS}")


@functools.lru_cache(maxsize=None)
def schema_head():
    """The newest revision of nbgrader's gradebook schema, which nbgrader writes into every new gradebook.

    nbgrader's own ``get_alembic_version`` learns it by running ``alembic heads`` as a program, for every new
    gradebook: a Python start and alembic's imports, about 3 s of CPU, and a failure when this interpreter's
    bin is not on PATH. The same answer from alembic's API in this process costs about 0.1 s, once. Like
    nbgrader, it takes the first head (the schema has one).
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR
    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_heads()[0]


nbgrader.api.get_alembic_version = schema_head  # Gradebook() looks it up in nbgrader.api when it is called


def open_gradebook(course):
    """The course's gradebook (use it in a with block)."""
    coursedir = course_directory(course)
    return Gradebook(coursedir.db_url, coursedir.course_id)


def require_assignment(course, assignment):
    """Raise KitError unless the assignment was generated into the gradebook; return its notebook names."""
    with open_gradebook(course) as gb:
        try:
            return [notebook.name for notebook in gb.find_assignment(assignment).notebooks]
        except MissingEntry:
            raise KitError(f"assignment {assignment!r} is not in the gradebook of {Path(course).resolve()}: "
                           f"run 'make release' (nbgrader generate_assignment {assignment}) first") from None


def record_zero(course, assignment, student):
    """Give every autograded cell of the student's submission 0 points, as nbgrader does for a missing notebook.

    Creates the student and the submission (with the timestamp.txt of the submission, as autograde does) when
    they do not exist. Manual scores an instructor has entered are kept.
    """
    coursedir = course_directory(course)
    timestamp = coursedir.get_existing_timestamp(coursedir.format_path(
        coursedir.submitted_directory, student, assignment))
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission warns about its own autoflush
        gb.update_or_create_student(student)
        extra = {"timestamp": timestamp} if timestamp else {}
        submission = gb.update_or_create_submission(assignment, student, **extra)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gb.db.commit()


def graded_students(course, assignment):
    """Students whose submission of the assignment has a score for every graded cell in the gradebook."""
    graded = set()
    with open_gradebook(course) as gb:
        for submission in gb.assignment_submissions(assignment):
            grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
            if all(grade.auto_score is not None or grade.manual_score is not None for grade in grades):
                graded.add(submission.student.id)
    return graded


def snapshot(course, assignment):
    """Everything autograding records for the assignment, comparable across gradebooks.

    student -> {"timestamp", "late_penalty", "cells": {cell: (auto_score, manual_score, extra_credit,
    needs_manual_grade, max_score)}, "comments": {cell: (auto_comment, manual_comment)}}. Database ids are
    left out: they are random.
    """
    result = {}
    with open_gradebook(course) as gb:
        for submission in gb.assignment_submissions(assignment):
            cells, comments, penalty = {}, {}, 0.0
            for notebook in submission.notebooks:
                penalty += notebook.late_submission_penalty or 0.0
                for grade in notebook.grades:
                    cells[f"{notebook.name}/{grade.name}"] = (
                        grade.auto_score, grade.manual_score, grade.extra_credit, grade.needs_manual_grade,
                        grade.max_score)
                for comment in notebook.comments:
                    comments[f"{notebook.name}/{comment.name}"] = (comment.auto_comment, comment.manual_comment)
            result[submission.student.id] = {
                "timestamp": submission.timestamp.isoformat() if submission.timestamp else None,
                "late_penalty": penalty, "cells": cells, "comments": comments}
    return result


def cell_scores(course, assignment):
    """(max points per code grade cell in notebook order, student -> {cell: score}) for the assignment."""
    with open_gradebook(course) as gb:
        max_points = {}
        for notebook in gb.find_assignment(assignment).notebooks:
            for cell in notebook.grade_cells:
                if cell.cell_type == "code":
                    max_points[cell.name] = cell.max_score
        scores = {}
        for submission in gb.assignment_submissions(assignment):
            scores[submission.student.id] = {grade.name: grade.score for notebook in submission.notebooks
                                             for grade in notebook.grades if grade.name in max_points}
    return max_points, scores


def scores(course, assignment):
    """student -> {code grade cell: score} for every submission of the assignment in the gradebook."""
    return cell_scores(course, assignment)[1]


def assignment_definition(course, assignment):
    """The assignment as the gradebook defines it (what generate_assignment recorded), as plain data.

    {"duedate": ISO text or None, "notebooks": {notebook: {"grade_cells": [{name, max_score, cell_type}],
    "solution_cells": [{name}], "task_cells": [{name, max_score, cell_type}], "source_cells": [{name,
    cell_type, locked, source, checksum}]}}}: enough to build the same assignment in another gradebook.
    """
    with open_gradebook(course) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            raise KitError(f"assignment {assignment!r} is not in the gradebook of {Path(course).resolve()}: "
                           f"run 'make release' (nbgrader generate_assignment {assignment}) first") from None
        notebooks = {}
        for notebook in found.notebooks:
            notebooks[notebook.name] = {
                "grade_cells": [{"name": c.name, "max_score": c.max_score, "cell_type": c.cell_type}
                                for c in notebook.grade_cells],
                "solution_cells": [{"name": c.name} for c in notebook.solution_cells],
                "task_cells": [{"name": c.name, "max_score": c.max_score, "cell_type": c.cell_type}
                               for c in notebook.task_cells],
                "source_cells": [{"name": c.name, "cell_type": c.cell_type, "locked": c.locked, "source": c.source,
                                  "checksum": c.checksum} for c in notebook.source_cells]}
        return {"duedate": found.duedate.isoformat() if found.duedate else None, "notebooks": notebooks}


def create_assignment(course, assignment, definition):
    """Record the assignment of assignment_definition() in the course's (empty) gradebook."""
    from datetime import datetime
    duedate = datetime.fromisoformat(definition["duedate"]) if definition["duedate"] else None
    with open_gradebook(course) as gb:
        gb.update_or_create_assignment(assignment, duedate=duedate)
        for name, cells in definition["notebooks"].items():
            gb.add_notebook(name, assignment)
            for cell in cells["grade_cells"]:
                gb.add_grade_cell(cell["name"], name, assignment, max_score=cell["max_score"],
                                  cell_type=cell["cell_type"])
            for cell in cells["solution_cells"]:
                gb.add_solution_cell(cell["name"], name, assignment)
            for cell in cells["task_cells"]:
                gb.add_task_cell(cell["name"], name, assignment, max_score=cell["max_score"],
                                 cell_type=cell["cell_type"])
            for cell in cells["source_cells"]:
                gb.add_source_cell(cell["name"], name, assignment, cell_type=cell["cell_type"],
                                   locked=cell["locked"], source=cell["source"], checksum=cell["checksum"])


GRADE_FIELDS = ("auto_score", "manual_score", "extra_credit", "needs_manual_grade")
COMMENT_FIELDS = ("auto_comment", "manual_comment")


def submission_record(course, assignment, student):
    """What the gradebook holds of one submission, as plain data, or None when it has none.

    {"timestamp": ISO text or None, "notebooks": {notebook: {"late_penalty", "grades": {cell: {GRADE_FIELDS}},
    "comments": {cell: {COMMENT_FIELDS}}}}}.
    """
    with open_gradebook(course) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return {"timestamp": submission.timestamp.isoformat() if submission.timestamp else None,
                "notebooks": {notebook.name: {
                    "late_penalty": notebook.late_submission_penalty,
                    "grades": {g.name: {f: getattr(g, f) for f in GRADE_FIELDS} for g in notebook.grades},
                    "comments": {c.name: {f: getattr(c, f) for f in COMMENT_FIELDS} for c in notebook.comments}}
                    for notebook in submission.notebooks}}


def write_submission_record(course, assignment, student, record, fields=GRADE_FIELDS + COMMENT_FIELDS,
                            late_penalty=True):
    """Set the fields of record (from submission_record) on the student's submission, creating it if needed.

    The instructor's side of remote grading writes what a worker's autograde recorded this way (the automatic
    fields, the late penalty and the timestamp); the worker first writes the instructor's manual fields into
    its own gradebook, so that autograde sees what it would have seen here.
    """
    from datetime import datetime
    with open_gradebook(course) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission warns about its own autoflush
        gb.update_or_create_student(student)
        extra = {"timestamp": datetime.fromisoformat(record["timestamp"])} if record.get("timestamp") else {}
        submission = gb.update_or_create_submission(assignment, student, **extra)
        for notebook in submission.notebooks:
            saved = record["notebooks"].get(notebook.name)
            if saved is None:
                continue
            if late_penalty:
                notebook.late_submission_penalty = saved["late_penalty"]
            for items, kind in ((notebook.grades, "grades"), (notebook.comments, "comments")):
                for item in items:
                    for field, value in saved[kind].get(item.name, {}).items():
                        if field in fields:
                            setattr(item, field, value)
        gb.db.commit()
