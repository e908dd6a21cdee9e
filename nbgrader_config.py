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
