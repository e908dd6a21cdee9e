"""nbgrader configuration of the backprop course (read by every nbgrader command run from this folder)."""
c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "backprop-course"
# The gradebook is nbgrader's default, SQLite in gradebook.db of the course folder (ignored by git).
# For PostgreSQL set, for example:
# c.CourseDirectory.db_url = "postgresql://grader@localhost/backprop"

# Release notebooks carry no outputs (ClearOutput is on by default) and students see the stubs.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Autograding: each cell may run for at most this many seconds; the whole notebook trains in under a second.
c.Execute.timeout = 30

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

# The grader's sandbox (coursekit/sandbox.py): every kernel that runs a submission starts under bubblewrap,
# with only the system, Python and the notebook's own non-notebook files visible, read-only; as an
# unprivileged uid; with a cleared environment; and under these limits. Without bubblewrap installed the
# limits still apply but the file system is not hidden (apt-get install bubblewrap).
from coursekit.sandbox import SandboxedKernelManager  # noqa: E402

c.Execute.kernel_manager_class = SandboxedKernelManager
c.Sandbox.memory_mb = 4096     # address space of one kernel: a memory bomb gets MemoryError
c.Sandbox.processes = 256      # processes and threads of the kernel's uid: a fork bomb stops there
c.Sandbox.file_size_mb = 64    # largest file the kernel may write
c.Sandbox.scratch_mb = 256     # its working folder and /tmp are in-memory file systems of this size
c.Sandbox.cpu_seconds = 900    # CPU time of one kernel

# Deleted test cells come back from the gradebook (nbgrader restores only the cells it knows were locked).
c.OverwriteCells.add_missing_cells = True

# The referee (coursekit/referee.py): after the notebook ran, every test cell runs again in the grader's own
# process against the submission's functions in a separate sandboxed process, so patching NumPy, builtins or
# IPython inside the kernel cannot make a failing cell pass; its results are what feedback shows.
from coursekit.referee import Referee  # noqa: E402

_preprocessors = list(c.Autograde.autograde_preprocessors)
_preprocessors.insert(_preprocessors.index(KernelSafeExecute) + 1, Referee)
c.Autograde.autograde_preprocessors = _preprocessors
