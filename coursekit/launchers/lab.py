"""Open the exercise in JupyterLab: the student version with nbgrader's Validate button, or formgrader.

Both start ``jupyter lab`` as Jupyter does by default: on loopback (127.0.0.1), on port 8888 or the next free
one, with a fresh token in the URL it prints and opens. The student's JupyterLab works in a copy of release/
(``student-work/`` of the course folder, ignored by git), so a student's edits never touch the committed release.
"""
import json
import os
import shutil
import sys
from pathlib import Path

from ..course.assignments import notebook_path
from ..course.config import load_config, nbgrader_env

STUDENT_WORK = "student-work"
FORMGRADER_URL = "/formgrader"

# nbgrader's JupyterLab parts that a student of this course does not use: the instructor's (formgrader, create
# assignment) and the exchange's (assignment and course lists, which need an nbgrader exchange this course does
# not have). Validate (the plugin @jupyter/nbgrader:validate-assignment and its server extension) stays.
STUDENT_LAB_PLUGINS_OFF = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:menu",
]
STUDENT_SERVER_EXTENSIONS_OFF = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
]


class LabCommand:
    """A ``jupyter lab`` invocation: its arguments, environment, working folder and the notebook it opens."""

    def __init__(self, argv, env, cwd):
        self.argv = argv
        self.env = env
        self.cwd = Path(cwd)

    def exec(self):
        """Replace this process by jupyter lab (so Ctrl-C and its shutdown prompt behave as Jupyter's own)."""
        os.chdir(self.cwd)
        os.execve(self.argv[0], self.argv, self.env)


def student_copy(course, assignment, work):
    """Copy release/<assignment> into work/<assignment>, keeping every file the student already has there.

    Returns the path of the student's notebook. A student starts over by deleting that notebook.
    """
    notebook = notebook_path(course, assignment, "release")
    target = Path(work) / assignment
    target.mkdir(parents=True, exist_ok=True)
    for source in notebook.parent.iterdir():
        if source.is_file() and not (target / source.name).exists():
            shutil.copy2(source, target / source.name)
    return target / notebook.name


def student_jupyter_config(work):
    """Write the Jupyter config folder that switches nbgrader's unused parts off; returns the folder.

    It holds the same files ``jupyter labextension disable`` and ``jupyter server extension disable`` write,
    and is added to JUPYTER_CONFIG_PATH of the student's JupyterLab only.
    """
    config = Path(work) / ".jupyter"
    page_config = {"disabledExtensions": {name: True for name in STUDENT_LAB_PLUGINS_OFF}}
    server_config = {"ServerApp": {"jpserver_extensions": {name: False for name in STUDENT_SERVER_EXTENSIONS_OFF}}}
    for path, content in [(config / "labconfig" / "page_config.json", page_config),
                          (config / "jupyter_server_config.d" / "coursekit-student.json", server_config)]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2) + "\n")
    return config


def jupyter_lab_argv(root, *args):
    """``jupyter lab`` of this interpreter on loopback, serving root; root may not run it without --allow-root."""
    argv = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    return argv + list(args)


def student_lab(course, assignment, work=None, jupyter_args=()):
    """The student's JupyterLab: the copy of the release in work, opened at the notebook, with Validate."""
    work = Path(work if work is not None else Path(course) / STUDENT_WORK).resolve()
    notebook = student_copy(course, assignment, work)
    env = nbgrader_env()
    config = student_jupyter_config(work)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(config), env.get("JUPYTER_CONFIG_PATH")]))
    # Validate reads nbgrader_config.py from the server's working folder: the student's copy has none.
    # The start page is the notebook, so the URL Jupyter prints opens it too.
    start = f"--LabApp.default_url=/lab/tree/{notebook.relative_to(work).as_posix()}"
    return LabCommand(jupyter_lab_argv(work, start, *jupyter_args), env, work)


def formgrader_lab(course, assignment=None, jupyter_args=()):
    """The instructor's JupyterLab in the course folder, opening nbgrader's formgrader (at the assignment's
    submissions when one is given)."""
    course = Path(course).resolve()
    load_config(course)  # a clear error when this is not a course folder
    url = f"{FORMGRADER_URL}/manage_submissions/{assignment}" if assignment else FORMGRADER_URL
    argv = jupyter_lab_argv(course, f"--LabApp.default_url={url}", *jupyter_args)
    return LabCommand(argv, nbgrader_env(), course)


def open_student_lab(course, assignment, work=None, jupyter_args=()):
    """Start the student's JupyterLab (does not return)."""
    command = student_lab(course, assignment, work, jupyter_args)
    print(f"Opening {command.cwd / assignment} in JupyterLab (Ctrl-C stops it).", flush=True)
    command.exec()


def open_formgrader(course, assignment=None, jupyter_args=()):
    """Start the instructor's JupyterLab at formgrader (does not return)."""
    command = formgrader_lab(course, assignment, jupyter_args)
    print(f"Opening formgrader for the course in {command.cwd} (Ctrl-C stops it).", flush=True)
    command.exec()
