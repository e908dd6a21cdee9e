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

# coursekit's nbgrader plug-ins (coursekit/preprocessors/): plain `nbgrader autograde` and
# `nbgrader generate_feedback` in this folder use them too.
# - A kernel that dies (os._exit, a segfault, the grading time limit) or ignores the interrupt after a cell's
#   timeout costs only the cells it did not run (stock nbgrader records no grade and deletes the notebook).
# - Every kernel starts in the sandbox (coursekit/sandbox/), with the limits below.
# - The referee runs every test cell again outside the student's kernel, against the submission's functions in
#   a separate sandboxed process, so patching NumPy, builtins or IPython cannot make a failing cell pass.
# - Feedback never shows hidden test code.
from coursekit.preprocessors import install  # noqa: E402

install(c)

# The grader's sandbox: bubblewrap (Debian's bubblewrap package) gives each kernel a new root with only the
# system, Python and the notebook's own non-notebook files visible, read-only; it runs as an unprivileged uid,
# with a cleared environment, under these limits. Without bubblewrap the limits still apply but the file
# system is not hidden (apt-get install bubblewrap).
c.Sandbox.memory_mb = 4096     # address space of one kernel: a memory bomb gets MemoryError
c.Sandbox.processes = 256      # processes and threads of the kernel's uid: a fork bomb stops there
c.Sandbox.file_size_mb = 64    # largest file the kernel may write
c.Sandbox.scratch_mb = 256     # its working folder and /tmp are in-memory file systems of this size
c.Sandbox.cpu_seconds = 900    # CPU time of one kernel

# Off: coursekit's RebuildFromSource (coursekit/preprocessors/rebuild.py, put in place by install(c)) rebuilds
# every submitted notebook from the instructor's cells, so deleted, copied and moved cells are repaired before
# OverwriteCells runs. nbgrader 0.9.6's own repair crashes on exactly these notebooks (KeyError 'grade_id' in
# add_missing_task_cells after a copied cell, KeyError '<given cell>' in add_missing_grade_cells after two
# deleted test cells) and gives an honest student 0.
c.OverwriteCells.add_missing_cells = False

# Given cells that only show results (plots, a by-hand example): the referee's sandboxed worker skips them.
c.Referee.skip_cells = ["plots", "run_training", "try_by_hand", "try_learning_rate"]
