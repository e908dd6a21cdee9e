"""nbgrader configuration of the backprop course (read by every nbgrader command run from this folder)."""
c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "backprop-course"
# The gradebook is nbgrader's default, SQLite in gradebook.db of the course folder (ignored by git).
# For PostgreSQL set, for example:
# c.CourseDirectory.db_url = "postgresql://grader@localhost/backprop"

# Release notebooks carry no outputs (ClearOutput is on by default) and students see the stubs.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Autograding: each cell may run for at most this many seconds; the whole notebook trains in under a second.
c.Execute.timeout = 60

# Autograding survives a kernel that dies (os._exit, a segfault, the grading time limit) or ignores the
# interrupt after a cell's timeout: coursekit's KernelSafeExecute, in place of nbgrader's Execute, turns it
# into error outputs in the cell that was running and in every later code cell, so the cells that ran before
# keep their points and the student keeps a grade (stock nbgrader records none and deletes the notebook).
from nbgrader.converters import Autograde  # noqa: E402
from nbgrader.preprocessors import Execute  # noqa: E402

from coursekit.execute import KernelSafeExecute  # noqa: E402

c.Autograde.autograde_preprocessors = [KernelSafeExecute if p is Execute else p
                                       for p in Autograde.class_traits()["autograde_preprocessors"].default()]

# Feedback (nbgrader generate_feedback, and coursekit grade) never shows hidden test code: coursekit's
# HideHiddenTests removes the hidden regions from test cells, reduces test-cell errors to name and message,
# and drops any output that shows a line of hidden test code.
from nbgrader.converters import GenerateFeedback  # noqa: E402

from coursekit.feedback import HideHiddenTests  # noqa: E402

c.GenerateFeedback.preprocessors = GenerateFeedback.class_traits()["preprocessors"].default() + [HideHiddenTests]
