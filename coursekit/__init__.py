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
import sys

from .errors import KitError

# jsonschema imports rfc3987_syntax, when it is installed (jupyter-events asks for it), to check the "iri"
# format, and that module builds a Lark grammar as it is imported: 2.4 s of CPU in every process that imports
# nbformat, so in the grading command, its fork server and every test. No schema the kit's processes validate
# uses that format (nbformat's notebook schemas use none), so they do without the module (None here makes its
# import fail, which jsonschema expects). JupyterLab and nbgrader's own commands run in processes of their own.
sys.modules.setdefault("rfc3987_syntax", None)

__all__ = ["KitError"]
