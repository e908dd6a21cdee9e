"""The class's scores from the gradebook: a summary, the per-cell table, nbgrader's CSV export."""
import csv
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass
class ClassSummary:
    """Scores of the class: per student total, per test cell pass share."""
    max_points: dict      # test cell -> points, in notebook order
    scores: dict          # student -> {test cell: score}
    reasons: dict         # student -> why the submission needs attention
    failures: dict = field(default_factory=dict)  # test cell -> Counter(reason -> students), reasons.py

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
    from ..course.notebooks import read, test_ids
    position = {}
    for notebook in notebooks:
        path = Path(course) / "source" / assignment / f"{notebook}.ipynb"
        if path.exists():
            for cell in test_ids(read(path)):
                position.setdefault(cell, len(position))
    return sorted(cells, key=lambda cell: (position.get(cell, len(position)), cell))


def class_summary(course, assignment):
    """The ClassSummary of the assignment from the gradebook, with the reasons kept by the grade command."""
    from ..course.gradebook import cell_scores, require_assignment
    from ..grading.state import State
    notebooks = require_assignment(course, assignment)
    max_points, scores = cell_scores(course, assignment)
    order = notebook_order(course, assignment, notebooks, max_points)
    from .reasons import autograded_notebooks, failure_reasons
    reasons = {s: o.reason for s, o in State(course, assignment).outcomes.items() if o.reason and s in scores}
    summary = ClassSummary({cell: max_points[cell] for cell in order}, scores, reasons)
    return replace(summary, failures=failure_reasons(summary, autograded_notebooks(course, assignment, notebooks)))


def export_grades(course, path):
    """nbgrader's CSV export of the whole gradebook to path (what 'nbgrader export --to path' writes)."""
    from nbgrader.plugins import CsvExportPlugin

    from ..course.gradebook import open_gradebook
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
    lines += failures_text(summary)
    if attention and summary.reasons:
        lines += ["", f"## {len(summary.reasons)} submission(s) need attention", ""]
        lines += [f"- {student}: {reason}" for student, reason in sorted(summary.reasons.items())]
    return "\n".join(lines) + "\n"


def failures_text(summary, top=3):
    """Markdown lines: for each test cell some failed, its failure share and its top reasons with their shares."""
    n = len(summary.scores)
    cells = [cell for cell in summary.max_points if summary.failures.get(cell)]
    if not cells:
        return []
    lines = ["", "## What the class got wrong", "",
             "Reasons are the messages of the trusted run of the hidden checks (quoted values and numbers shown "
             "as '…' and #).", ""]
    for cell in cells:
        counts = summary.failures[cell]
        failed = sum(counts.values())
        common = counts.most_common(top)
        parts = [f"{k / n:.0%} ({k}/{n}) '{reason}'" for reason, k in common]
        rest = failed - sum(k for _, k in common)
        if rest:
            parts.append(f"{rest} more with {len(counts) - len(common)} other reason(s)")
        lines.append(f"- {cell}: {failed / n:.0%} failed ({failed}/{n}). " + "; ".join(parts))
    return lines
