"""The class report after grading: nbgrader's grades.csv, a per-cell table, a summary, two charts, feedback.

Written to the course folder: ``grades.csv`` (nbgrader's CSV export, as ``nbgrader export`` writes it),
``reports/<assignment>/``: ``scores.csv`` (one row per student, one column per test cell, the total and the
reason when a submission needs attention), ``summary.md`` (mean and median score, and for every test cell
the share of students who passed it), ``score_histogram.png`` and ``pass_rates.png``; and every student's
feedback, ``feedback/<student>/<assignment>/*.html``, written by nbgrader's GenerateFeedback in parallel
workers (nbgrader_config.py adds the preprocessor that keeps hidden test code out of it).

Feedback is written from the gradebook as it is now, so run the report again after manual grading.
"""
import csv
import glob
import re
import statistics
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from . import KitError
from .progress import default_progress
from .workers import Worker, close_pool, log_folder, run_tasks, start_fork_server


@dataclass
class ClassSummary:
    """Scores of the class: per student total, per test cell pass share."""
    max_points: dict      # test cell -> points, in notebook order
    scores: dict          # student -> {test cell: score}
    reasons: dict         # student -> why the submission needs attention

    def total(self, student):
        """The student's total over the test cells."""
        return sum(self.scores[student].get(cell, 0.0) for cell in self.max_points)

    @property
    def max_total(self):
        """The maximum total."""
        return sum(self.max_points.values())

    def totals(self):
        """Every student's total, by student id."""
        return [self.total(student) for student in sorted(self.scores)]

    def pass_share(self, cell):
        """Share of students with full points on the cell."""
        passed = sum(1 for s in self.scores.values() if s.get(cell, 0.0) >= self.max_points[cell])
        return passed / len(self.scores) if self.scores else 0.0


def notebook_order(course, assignment, notebooks, cells):
    """The cells sorted as they appear in the source notebooks (unknown ones last, by name)."""
    from .notebooks import read, test_ids
    position = {}
    for notebook in notebooks:
        path = Path(course) / "source" / assignment / f"{notebook}.ipynb"
        if path.exists():
            for cell in test_ids(read(path)):
                position.setdefault(cell, len(position))
    return sorted(cells, key=lambda cell: (position.get(cell, len(position)), cell))


def class_summary(course, assignment):
    """The ClassSummary of the assignment from the gradebook, with the reasons kept by the grade command."""
    from .gradebook import cell_scores, require_assignment
    from .grading import State
    notebooks = require_assignment(course, assignment)
    max_points, scores = cell_scores(course, assignment)
    order = notebook_order(course, assignment, notebooks, max_points)
    reasons = {s: o.reason for s, o in State(course, assignment).outcomes.items() if o.reason and s in scores}
    return ClassSummary({cell: max_points[cell] for cell in order}, scores, reasons)


def export_grades(course, path):
    """nbgrader's CSV export of the whole gradebook to path (what 'nbgrader export --to path' writes)."""
    from nbgrader.plugins import CsvExportPlugin

    from .gradebook import open_gradebook
    plugin = CsvExportPlugin(to=str(path))
    with open_gradebook(course) as gb:
        plugin.export(gb)
    return path


def write_scores_table(summary, path):
    """scores.csv: student, each test cell's score, total, maximum, and the reason it needs attention."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", *summary.max_points, "total", "max_score", "needs_attention"])
        for student in sorted(summary.scores):
            row = [f"{summary.scores[student].get(cell, 0.0):g}" for cell in summary.max_points]
            writer.writerow([student, *row, f"{summary.total(student):g}", f"{summary.max_total:g}",
                             summary.reasons.get(student, "")])
    return path


def summary_text(summary, assignment, attention=True):
    """The class summary as Markdown: scores, pass share per test cell, (attention:) what needs attention."""
    totals = summary.totals()
    n, top = len(totals), summary.max_total
    lines = [f"# {assignment}: class summary", ""]
    if not totals:
        return "\n".join(lines + ["No submission has been graded yet."]) + "\n"
    lines.append(f"{n} submission(s). Score out of {top:g}: mean {statistics.mean(totals):.1f}, "
                 f"median {statistics.median(totals):g}, lowest {min(totals):g}, highest {max(totals):g}; "
                 f"{sum(1 for t in totals if t >= top)} with full marks.")
    lines += ["", "| test cell | points | passed (full points) |", "|---|---:|---:|"]
    for cell, points in summary.max_points.items():
        share = summary.pass_share(cell)
        lines.append(f"| {cell} | {points:g} | {share:.0%} ({round(share * n)}/{n}) |")
    weakest = min(summary.max_points, key=summary.pass_share)
    lines += ["", f"Least passed: {weakest} ({summary.pass_share(weakest):.0%} of the class)."]
    if attention and summary.reasons:
        lines += ["", f"## {len(summary.reasons)} submission(s) need attention", ""]
        lines += [f"- {student}: {reason}" for student, reason in sorted(summary.reasons.items())]
    return "\n".join(lines) + "\n"


def pyplot():
    """matplotlib's pyplot with the file-only Agg backend (imported when a chart is drawn)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_histogram(summary, path):
    """A histogram of the total scores, one bar per point (or per 1/20 of the maximum)."""
    plt = pyplot()
    totals, top = summary.totals(), summary.max_total
    step = 1 if top <= 30 else top / 20
    edges = [i * step - step / 2 for i in range(int(top / step) + 2)]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    ax.hist(totals, bins=edges, color="#4c72b0", edgecolor="white")
    ax.set(xlabel=f"score (out of {top:g})", ylabel="students", xlim=(edges[0], edges[-1]),
           title=f"Scores: {len(totals)} students, mean {statistics.mean(totals):.1f}, "
                 f"median {statistics.median(totals):g}")
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_pass_rates(summary, path):
    """A horizontal bar per test cell, in notebook order: the share of students who passed it."""
    plt = pyplot()
    cells = list(summary.max_points)
    shares = [100 * summary.pass_share(cell) for cell in cells]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(cells) + 1.2), dpi=100)
    bars = ax.barh(cells[::-1], shares[::-1], color="#55a868")
    ax.bar_label(bars, labels=[f"{s:.0f}%" for s in shares[::-1]], padding=3, fontsize=8)
    ax.set(xlim=(0, 112), xlabel="students who passed (%)", title="Pass rate per test cell")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def students_with_autograded_notebooks(course, assignment):
    """Students whose autograded/<student>/<assignment>/ holds a notebook, sorted."""
    from .gradebook import course_directory
    coursedir = course_directory(course)
    pattern = re.compile(coursedir.format_path(coursedir.autograded_directory, "(?P<student>[^/]+)",
                                               re.escape(assignment), escape=True) + "$")
    students = []
    for path in sorted(glob.glob(coursedir.format_path(coursedir.autograded_directory, "*", assignment))):
        match = pattern.match(path)
        if match and glob.glob(glob.escape(path) + "/*.ipynb"):
            students.append(match["student"])
    return students


def write_feedback(course, pool, students, assignment, progress):
    """nbgrader's generate_feedback for each student, on the pool's workers; {student: problem} of failures."""
    from .gradebook import course_directory
    logs = log_folder(course_directory(course)) / "logs" / assignment
    problems = {}

    def check(worker):
        result = worker.answer()
        if result is None and worker.process.is_alive():
            return False
        worker.check_started()
        student = worker.finish()["student"]
        if result is None or not result["done"]:
            problems[student] = result["reason"] if result else "no feedback: the process writing it died"
        progress.done(student, "feedback written" if student not in problems else "", problems.get(student))
        return True

    if not students:
        return problems
    tasks = deque({"kind": "feedback", "assignment": assignment, "student": student,
                   "log_file": str(logs / f"{student}.feedback.log")} for student in students)
    progress.start(len(tasks), unit="feedback")
    try:
        run_tasks(pool, tasks, check, course)
    finally:
        progress.close()
    return problems


def write_report(course, assignment, feedback=True, workers=None, progress=None):
    """Write grades.csv, reports/<assignment>/ and (with feedback) every student's feedback.

    Returns (paths written, summary Markdown, {student: feedback problem}).
    """
    from .grading import default_workers
    course = Path(course).resolve()
    if feedback:
        start_fork_server()
    pool = []
    try:
        summary = class_summary(course, assignment)
        if not summary.scores:
            raise KitError(f"no graded submission of {assignment} in the gradebook: run the grade command first")
        folder = course / "reports" / assignment
        folder.mkdir(parents=True, exist_ok=True)
        text = summary_text(summary, assignment)
        (folder / "summary.md").write_text(text)
        paths = [export_grades(course, course / "grades.csv"),
                 write_scores_table(summary, folder / "scores.csv"), folder / "summary.md",
                 plot_histogram(summary, folder / "score_histogram.png"),
                 plot_pass_rates(summary, folder / "pass_rates.png")]
        students = students_with_autograded_notebooks(course, assignment) if feedback else []
        pool += [Worker(course, i + 1) for i in range(min(workers or default_workers(), len(students)))]
        problems = write_feedback(course, pool, students, assignment, progress or default_progress())
    finally:
        close_pool(pool)
    return paths, text, problems
