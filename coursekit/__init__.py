"""Instructor tooling for the backprop course: regenerate the release, build and autograde submissions.

The command line is ``python -m coursekit --help``; every command works on a course folder laid out as
nbgrader expects (``source/``, ``release/``, ``submitted/``, ``autograded/``, ``nbgrader_config.py``).
"""

ASSIGNMENT = "backprop"
NOTEBOOK = "backprop.ipynb"


class KitError(Exception):
    """A problem the user can fix; the command line prints it as one line and exits with status 2."""
