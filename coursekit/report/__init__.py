"""The class report after grading: nbgrader's grades.csv, a per-cell table, a summary, three charts, feedback.

Written to the course folder: ``grades.csv`` (nbgrader's CSV export, as ``nbgrader export`` writes it),
``reports/<assignment>/``: ``scores.csv`` (one row per student, one column per test cell, the total and the
reason when a submission needs attention), ``summary.md`` (mean and median score, for every test cell
the share of students who passed it and the most common reasons of those who did not, reasons.py),
``score_histogram.png``, ``pass_rates.png`` and ``failure_reasons.png``; and every student's
feedback, ``feedback/<student>/<assignment>/*.html``, written by nbgrader's GenerateFeedback in parallel
workers (feedback.py). The figures are summary.py's, the charts charts.py's.

Feedback is written from the gradebook as it is now, so run the report again after manual grading.
"""
from pathlib import Path

from ..errors import KitError
from ..grading.forkserver import start_fork_server
from ..grading.local import Worker, close_pool
from ..grading.progress import default_progress
from .charts import plot_failure_reasons, plot_histogram, plot_pass_rates
from .feedback import students_with_autograded_notebooks, write_feedback
from .summary import class_summary, export_grades, summary_text, write_scores_table


def write_report(course, assignment, feedback=True, workers=None, progress=None):
    """Write grades.csv, reports/<assignment>/ and (with feedback) every student's feedback.

    Returns (paths written, summary Markdown, {student: feedback problem}).
    """
    from ..grading import default_workers
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
                 plot_pass_rates(summary, folder / "pass_rates.png"),
                 plot_failure_reasons(summary, folder / "failure_reasons.png")]
        students = students_with_autograded_notebooks(course, assignment) if feedback else []
        pool += [Worker(course, i + 1) for i in range(min(workers or default_workers(), len(students)))]
        problems = write_feedback(course, pool, students, assignment, progress or default_progress())
    finally:
        close_pool(pool)
    return paths, text, problems
