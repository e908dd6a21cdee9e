"""A course folder's nbgrader configuration, and nbgrader's own apps run in it."""
import os
import subprocess
import sys
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

from ..errors import KitError

REPO = Path(__file__).resolve().parents[2]


def nbgrader_env():
    """The environment for nbgrader subprocesses: this interpreter's bin first (nbgrader calls alembic)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run_nbgrader(course, *args, check=True):
    """Run ``nbgrader ARGS`` in the course folder; returns the CompletedProcess (output captured).

    With check, a non-zero exit raises KitError with the last error line nbgrader printed.
    """
    process = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=nbgrader_env(),
                             capture_output=True, text=True)
    if check and process.returncode != 0:
        errors = [line for line in process.stderr.splitlines() if "ERROR" in line or "Error" in line]
        raise KitError(f"nbgrader {' '.join(args)} failed in {course}: "
                       f"{errors[-1].strip() if errors else process.stderr.strip()[-300:]}")
    return process


def load_config(course):
    """The course's nbgrader_config.py as a traitlets Config, with the course folder as root."""
    config_file = Path(course) / "nbgrader_config.py"
    if not config_file.exists():
        raise KitError(f"{course} has no nbgrader_config.py: run this in the course folder or pass --course")
    config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    config.CourseDirectory.root = str(Path(course).resolve())
    return config


def course_directory(course):
    """nbgrader's CourseDirectory of the course folder (paths, db_url, course_id from nbgrader_config.py)."""
    try:
        config = load_config(course)
    except KitError:
        raise
    except Exception as error:  # a mistake in nbgrader_config.py: say so in one line
        raise KitError(f"{Path(course) / 'nbgrader_config.py'} could not be loaded ({type(error).__name__}: "
                       f"{error}): fix it and run the command again") from None
    return CourseDirectory(config=config)


def kit_folder(coursedir):
    """Where the grade command keeps its state and logs: autograded/.coursekit/ (ignored by nbgrader's globs)."""
    return Path(coursedir.root) / coursedir.autograded_directory / ".coursekit"
