"""Command line of the course kit: ``python -m coursekit COMMAND [ASSIGNMENT] [options]``.

Commands (ASSIGNMENT is a folder of source/; it may be left out when the course has only one):
  release   regenerate release/ASSIGNMENT (every assignment when none is named) with nbgrader generate_assignment
  grade     autograde every submission of an assignment in parallel, print the class summary
  report    write grades.csv, the class report (tables, summary, charts) and every student's feedback
            (with --lms and --roster also the grade file the LMS imports)
  handout   write handout/ASSIGNMENT.zip for students: the release, its checks, a README, requirements.txt
  collect   turn a Canvas or Moodle "download all submissions" zip into submitted/<student>/ASSIGNMENT/
  demo      generate the release, grade example submissions (reference, untouched, partial), report, print
  lab       open the student version (a copy in student-work/) in JupyterLab, with nbgrader's Validate
  formgrader  open nbgrader's formgrader, the instructor's view of the course, in JupyterLab

Exit status: 0 when all went well, 1 when some submissions need attention (they are listed), 2 when the
command could not run (the one-line error says what to do).
"""
import argparse
import sys
from pathlib import Path

from .errors import KitError

GRADE_HELP = """\
Autograde every submission in submitted/<student>/ASSIGNMENT/ with nbgrader's own autograde, several at a
time (one worker process per core), into the gradebook and autograded/, then print the class summary.
Write grades.csv, the charts and the students' feedback afterwards with the report command.

Every submission gets a grade in the gradebook. One whose kernel dies or hangs keeps the points of the cells
that ran before; one that cannot be graded at all (no notebook, an unreadable notebook, past the time limit)
gets 0. Both are listed at the end with the reason, and the exit status is then 1.

Running it again grades only new or changed submissions (and all of them when the assignment's source or
nbgrader_config.py changed); --student and --force grade again on purpose. Progress: a bar with ETA on a
terminal, one line per submission otherwise. Logs: autograded/.coursekit/logs/ASSIGNMENT/.
"""


REPORT_HELP = """\
Write, from the gradebook as it is now (so run it again after manual grading):
  grades.csv                          nbgrader's CSV export of the gradebook
  reports/ASSIGNMENT/scores.csv       one row per student: each test cell's score, the total, and why the
                                      submission needs attention, if it does
  reports/ASSIGNMENT/summary.md       mean and median score, the share of students passing each test cell,
                                      and what the class got wrong: for each test cell, the most common
                                      messages of the trusted run of its checks, with their shares
  reports/ASSIGNMENT/*.png            a score histogram, a pass-rate chart per test cell, and the
                                      failure reasons chart
  feedback/<student>/ASSIGNMENT/      each student's feedback (HTML, nbgrader's generate_feedback), in which
                                      hidden test code is never shown: a failing hidden check shows its
                                      name and message only
  reports/ASSIGNMENT/canvas_grades.csv or moodle_grades.csv (with --lms and --roster): the LMS's own
                                      gradebook export with the assignment's points filled in, ready to
                                      import (Canvas: Grades > Import; Moodle: Upload grading worksheet)
"""

COLLECT_HELP = """\
Turn the LMS's "download all submissions" zip of the assignment into submitted/<student>/ASSIGNMENT/, the
student's notebook under the assignment's notebook name and every other file they submitted next to it.
--roster is the LMS's gradebook export (Canvas: Grades > Export > Export Entire Gradebook; Moodle: Download
grading worksheet); it maps LMS users to student ids: Canvas's SIS Login ID (else SIS User ID, else ID),
Moodle's email address without the domain (else participant-N).

When a student submitted several times the latest counts. Files that match no one, notebooks of names the
assignment does not have, roster students with no file, late work and superseded files are listed. Exit
status 1 when a file could not be placed. Then: python -m coursekit grade ASSIGNMENT.
"""


def positive_int(text):
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text):
    """argparse type: a number > 0."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def add_assignment(parser):
    """The optional ASSIGNMENT argument (resolved by pick_assignment)."""
    parser.add_argument("assignment", nargs="?", help="the assignment, a folder of source/ (default: the course's "
                                                      "only assignment)")


def pick_assignment(course, name):
    """The assignment the command works on: name, or the course's only one; KitError when that is unclear."""
    from .course.assignments import assignments
    known = assignments(course)
    if name is None:
        if len(known) == 1:
            return known[0]
        raise KitError(f"name the assignment: {', '.join(known)} are in {course}/source/" if known else
                       f"{course}/source/ holds no assignment: run this in the course folder or pass --course")
    if name not in known:
        raise KitError(f"no assignment {name!r} in {course}/source/ (there: {', '.join(known) or 'none'}): "
                       "check the name")
    return name


def build_parser():
    """The argument parser with its subcommands."""
    from .grading import DEFAULT_TIME_LIMIT, default_workers
    parser = argparse.ArgumentParser(prog="python -m coursekit", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Run 'python -m coursekit COMMAND --help' for a command's options.\n\n"
                                            + __doc__.split("\n\n", 2)[2])
    parser.add_argument("--course", type=Path, default=Path.cwd(),
                        help="the course folder, with source/ and nbgrader_config.py (default: the current folder)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    release = commands.add_parser("release", help="regenerate release/ from source/ (nbgrader generate_assignment)")
    release.add_argument("assignment", nargs="?", help="the assignment (default: every assignment of source/)")
    grade = commands.add_parser("grade", help="autograde all submissions in parallel and print the class summary",
                                description=GRADE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_assignment(grade)
    grade.add_argument("--workers", type=positive_int, default=None,
                       help=f"submissions graded at once (default: one per core, here {default_workers()})")
    grade.add_argument("--timeout", type=positive_float, default=DEFAULT_TIME_LIMIT, metavar="SECONDS",
                       help="wall-clock limit for one submission; its kernel is then stopped and the cells that "
                            f"had not run score 0 (default: {DEFAULT_TIME_LIMIT}). nbgrader's per-cell limit is "
                            "c.Execute.timeout in nbgrader_config.py")
    grade.add_argument("--student", action="append", default=[], metavar="ID",
                       help="grade this student's submission even if unchanged (repeat for several); "
                            "the others are left as they are")
    grade.add_argument("--force", action="store_true", help="grade every submission again")
    grade.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="grade on the Dask cluster of this scheduler instead of this machine (workers need the "
                            "course's Python packages and bubblewrap, not the course folder; see the README)")
    report = commands.add_parser("report", help="write grades.csv, reports/ASSIGNMENT/ and every student's feedback",
                                 description=REPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_assignment(report)
    report.add_argument("--workers", type=positive_int, default=None,
                        help=f"feedback files written at once (default: one per core, here {default_workers()})")
    report.add_argument("--no-feedback", dest="feedback", action="store_false",
                        help="write only grades.csv and reports/ASSIGNMENT/, not feedback/")
    report.add_argument("--lms", metavar="canvas|moodle",
                        help="also write reports/ASSIGNMENT/<lms>_grades.csv for this LMS (needs --roster)")
    report.add_argument("--roster", type=Path, metavar="CSV",
                        help="the LMS's gradebook export (Canvas gradebook CSV, Moodle grading worksheet)")
    report.add_argument("--column", metavar="TITLE",
                        help="the roster column to fill (default: Canvas: the one whose title starts with the "
                             "assignment's name; Moodle: Grade)")
    report.add_argument("--missing-as-zero", action="store_true",
                        help="give roster students without a graded submission 0 points (default: an empty cell, "
                             "which the LMS leaves alone)")
    handout = commands.add_parser("handout", help="write handout/ASSIGNMENT.zip, what students download")
    add_assignment(handout)
    collect = commands.add_parser("collect", help="unpack a Canvas or Moodle submissions zip into submitted/",
                                  description=COLLECT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_assignment(collect)
    collect.add_argument("zip", type=Path, metavar="ZIP", help="the LMS's download of all submissions")
    collect.add_argument("--lms", required=True, metavar="canvas|moodle",
                         help="the LMS the zip comes from")
    collect.add_argument("--roster", required=True, type=Path, metavar="CSV",
                         help="the LMS's gradebook export, to map LMS users to student ids")
    add_assignment(commands.add_parser("demo", help="generate the release, grade example submissions, print the grades"))
    lab = commands.add_parser("lab", help="open the student version (a copy in student-work/) in JupyterLab")
    add_assignment(lab)
    lab.add_argument("--work", type=Path, help="the student's folder (default: student-work/ of the course)")
    lab.add_argument("jupyter_args", nargs="*", help="options for jupyter lab after --, e.g. -- --port 9000")
    formgrader = commands.add_parser("formgrader", help="open nbgrader's formgrader for the course in JupyterLab")
    formgrader.add_argument("assignment", nargs="?", help="open at this assignment's submissions (default: the "
                                                          "course's overview)")
    formgrader.add_argument("jupyter_args", nargs="*", help="options for jupyter lab after --, e.g. -- --no-browser")
    return parser


def run_grade(args):
    """The grade command: grade, list what needs attention, print the class summary; the exit status."""
    from .grading import describe, grade_class
    from .report.summary import class_summary, summary_text
    run = grade_class(args.course, args.assignment, workers=args.workers, time_limit=args.timeout,
                      students=args.student, force=args.force, scheduler=args.scheduler)
    print(describe(run) or "nothing to grade")
    print("\n" + summary_text(class_summary(args.course, args.assignment), args.assignment, attention=False))
    print(f"next: python -m coursekit report {args.assignment} (make report) writes grades.csv, the charts and "
          "the feedback")
    return 1 if run.attention else 0


def run_report(args):
    """The report command: write the report and the feedback, print where; the exit status."""
    from .report import write_report
    paths, text, problems = write_report(args.course, args.assignment, feedback=args.feedback,
                                         workers=args.workers)
    print(text)
    print(f"report: {', '.join(str(p.relative_to(args.course)) for p in paths)}")
    if args.feedback:
        print(f"feedback: {Path(args.course, 'feedback').relative_to(args.course)}/<student>/{args.assignment}/")
    for student, problem in problems.items():
        print(f"  {student}: {problem}")
    if args.lms:
        from .lms import describe_grade_file, write_grade_file
        grades = write_grade_file(args.course, args.assignment, args.lms, args.roster, args.column,
                                  args.missing_as_zero)
        print("\n".join(describe_grade_file(grades, args.missing_as_zero)))
        print(f"import {grades.path.relative_to(args.course)} into {args.lms.capitalize()}")
    return 1 if problems else 0


def check_report_lms(args):
    """--lms and --roster go together; --column and --missing-as-zero need them: KitError before any work."""
    if bool(args.lms) != bool(args.roster):
        raise KitError("--lms and --roster go together: pass --lms canvas|moodle --roster CSV (the LMS's "
                       "gradebook export)")
    if not args.lms and (args.column or args.missing_as_zero):
        raise KitError("--column and --missing-as-zero are for the LMS grade file: add --lms canvas|moodle "
                       "--roster CSV")
    if args.lms:
        from .lms import grade_column, read_roster
        # a wrong roster or an unclear column fails now, not after the feedback was written
        grade_column(read_roster(args.lms, args.roster), args.assignment, args.column)


def run_collect(args):
    """The collect command: unpack the LMS zip into submitted/, list what needs a look; the exit status."""
    from .lms import collect, describe_collected
    result = collect(args.course, args.assignment, args.lms, args.zip, args.roster)
    print(describe_collected(result, args.assignment))
    print(f"next: python -m coursekit grade {args.assignment} (make grade)")
    return 1 if result.attention else 0


def run_release(args):
    """The release command: nbgrader generate_assignment for the assignment, or for every one."""
    from .course.assignments import assignments, generate_assignment  # nbgrader is imported only when needed
    names = [pick_assignment(args.course, args.assignment)] if args.assignment else assignments(args.course)
    if not names:
        raise KitError(f"{args.course}/source/ holds no assignment: run this in the course folder or pass --course")
    for name in names:
        generate_assignment(args.course, name)
        print(f"release/{name} regenerated from source/{name} in {args.course}")
    return 0


def uses_local_workers(args):
    """Whether the command grades or writes feedback with this machine's worker processes."""
    if args.command == "grade":
        return not args.scheduler
    return args.command == "report" and args.feedback


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.course = args.course.resolve()
    if uses_local_workers(args):
        from .grading.forkserver import start_fork_server
        start_fork_server()  # its imports run beside this process's own import of nbgrader, just below
        if args.command == "grade":
            from .sandbox import offer_zygote
            offer_zygote()  # the kernels' zygote, with the default settings: its imports run beside them too
    try:
        from .course.config import course_directory
        course_directory(args.course)  # a missing or broken nbgrader_config.py is the first thing to say
        if args.command == "release":
            return run_release(args)
        if args.command == "formgrader":
            from .launchers.lab import open_formgrader
            open_formgrader(args.course, args.assignment and pick_assignment(args.course, args.assignment),
                            args.jupyter_args)
            return 0
        args.assignment = pick_assignment(args.course, args.assignment)
        if args.command == "grade":
            return run_grade(args)
        elif args.command == "report":
            check_report_lms(args)
            return run_report(args)
        elif args.command == "handout":
            from .launchers.handout import run_handout
            return run_handout(args.course, args.assignment)
        elif args.command == "collect":
            return run_collect(args)
        elif args.command == "demo":
            from .launchers.demo import run_demo
            return run_demo(args.course, args.assignment)
        elif args.command == "lab":
            from .launchers.lab import open_student_lab
            open_student_lab(args.course, args.assignment, args.work, args.jupyter_args)
    except KitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the submissions graded so far are recorded; run the command again to go on",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
