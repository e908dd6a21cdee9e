"""coursekit: an nbgrader course kit. Release, grade, report and hand out any assignment of a course folder.

The command line is ``python -m coursekit --help``; every command works on a course folder laid out as
nbgrader expects (``source/``, ``release/``, ``submitted/``, ``autograded/``, ``nbgrader_config.py``).

The package, as one class's grading flows through it:

- ``course/``: a course folder: its config, assignments, submissions, notebooks and gradebook;
- ``grading/``: one class's run: what to grade, the state file, tasks, workers, progress;
- ``preprocessors/``: the nbgrader plug-ins each submission goes through (``install(c)`` puts them in place);
- ``sandbox/``: bubblewrap and OS limits around every piece of student code;
- ``report/``: tables, charts and feedback after grading;
- ``lms.py``: Canvas and Moodle: collecting their submission zips, writing the grade files they import;
- ``launchers/``: JupyterLab for students and instructors, the student handout, and the demo.
"""
from .errors import KitError

__all__ = ["KitError"]
