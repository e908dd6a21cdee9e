"""The student handout (handout/ASSIGNMENT.zip): what it holds, what it leaves out, and that it works alone.

The slow test unzips it into an empty folder outside the course, types the reference answers into the
notebook and runs it there with nbclient, in an isolated interpreter (``-I``, no PYTHONPATH) whose working
folder is the unzipped one: every visible check must pass with only the handout's files next to it.
"""
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from coursekit import KitError
from coursekit.cli import main
from coursekit.course.notebooks import (HIDDEN_MARKERS, SOLUTION_MARKERS, build_submission, hidden_blocks, read,
                                        reference_answers, write)
from coursekit.course.notebooks import test_ids as graded_cells
from coursekit.launchers.handout import build_handout, code_imports, normalize, release_imports
from support.course import ASSIGNMENT, NOTEBOOK, RELEASE, REPO, SOURCE


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    """The repo's handout, built into a temporary folder: name in the zip -> bytes."""
    path = build_handout(REPO, ASSIGNMENT, tmp_path_factory.mktemp("handout") / f"{ASSIGNMENT}.zip")
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def requirement_pins(handout):
    text = handout[f"{ASSIGNMENT}/requirements.txt"].decode()
    return dict(re.match(r"([^=\s]+)==(\S+)$", line).groups() for line in text.splitlines()
                if line.strip() and not line.startswith("#"))


def test_handout_holds_the_release_byte_for_byte_a_readme_and_requirements(handout):
    released = {f"{ASSIGNMENT}/{p.name}": p.read_bytes() for p in RELEASE.iterdir() if p.is_file()}
    assert set(handout) == set(released) | {f"{ASSIGNMENT}/README.md", f"{ASSIGNMENT}/requirements.txt"}
    for name, data in released.items():
        assert handout[name] == data, f"{name} differs from release/"


def file_text(name, data):
    """The text a student reads in a handout file: a notebook's cell sources, another file's text."""
    if name.endswith(".ipynb"):
        return "\n".join(cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
                         for cell in json.loads(data)["cells"])
    return data.decode()


def marked_blocks(source, markers):
    """The code between each begin/end marker pair of a cell (hidden_blocks' rule, for any pair of markers)."""
    pattern = re.escape(markers[0]) + r"[^\n]*\n(.*?)\n[^\n]*" + re.escape(markers[1])
    return re.findall(pattern, source, flags=re.S)


def source_only_lines(source_nb):
    """(hidden-test lines, solution lines) of the source: lines between the HIDDEN TESTS (SOLUTION) markers that
    appear nowhere a student may see them (elsewhere in the source's cells, or in the helper files), stripped."""
    hidden, solution, shown = set(), set(), set()
    for cell in source_nb.cells:
        text = cell.source
        assert hidden_blocks(text) == marked_blocks(text, HIDDEN_MARKERS)
        for lines, markers in [(hidden, HIDDEN_MARKERS), (solution, SOLUTION_MARKERS)]:
            for block in marked_blocks(text, markers):
                lines.update(line.strip() for line in block.split("\n"))
                text = text.replace(block, "")
        shown.update(line.strip() for line in text.split("\n"))
    for path in SOURCE.iterdir():
        if path.suffix != ".ipynb" and path.is_file():
            shown.update(line.strip() for line in path.read_text().split("\n"))
    keep = lambda lines: {line for line in lines - shown if len(line) > 3 and line not in ("else:", "pass")}
    return keep(hidden), keep(solution)


def test_handout_holds_no_solution_and_no_hidden_test(handout):
    hidden, solution = source_only_lines(read(SOURCE / NOTEBOOK))
    assert len(hidden) > 100 and len(solution) >= 10, (len(hidden), len(solution))
    for name, data in handout.items():
        text = file_text(name, data)
        lines = {line.strip() for line in text.split("\n")}
        for marker in SOLUTION_MARKERS + HIDDEN_MARKERS:
            assert marker not in text, f"{name} holds {marker!r}"
        assert not hidden & lines, f"{name} holds hidden-test lines: {sorted(hidden & lines)[:3]}"
        assert not solution & lines, f"{name} holds solution lines: {sorted(solution & lines)[:3]}"


def test_handout_readme_tells_how_to_open_check_restart_and_submit(handout):
    readme = handout[f"{ASSIGNMENT}/README.md"].decode()
    for words in ["JupyterLab", "VS Code", "Colab", "backprop_checks.py", "Restart Kernel and Run All Cells",
                  "pip install -r requirements.txt", "Canvas, Moodle", "Assignment List", NOTEBOOK]:
        assert words in readme, words
    assert len(readme.splitlines()) < 70, "one page"


def test_handout_requirements_are_pinned_installed_and_cover_every_import(handout):
    pins = requirement_pins(handout)
    course_pins = dict(line.split("==") for line in (REPO / "requirements.txt").read_text().split() if "==" in line)
    assert set(map(normalize, pins)) == {"numpy", "scikit-learn", "matplotlib", "jupyterlab"}
    for name, version in pins.items():
        assert course_pins[name] == version, f"{name} is not at requirements.txt's pin"
        assert importlib.metadata.version(name) == version, f"{name}=={version} is not what the venv has"
    modules, local = release_imports(RELEASE, [p for p in RELEASE.iterdir() if p.is_file()])
    assert local == ["backprop_checks"]
    by_module = importlib.metadata.packages_distributions()
    for module in modules:
        assert any(normalize(dist) in map(normalize, pins) for dist in by_module[module]), module


def test_code_imports_reads_stubs_and_skips_magics():
    assert code_imports("import numpy as np\nfrom sklearn.datasets import x\n%matplotlib inline") == \
        {"numpy", "sklearn"}
    assert code_imports("import scipy.special\ndef f(:\n    raise") == {"scipy"}, "a cell that does not parse"


def test_handout_of_a_stale_release_is_refused(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(SOURCE, course / "source" / ASSIGNMENT)
    shutil.copytree(SOURCE, course / "release" / ASSIGNMENT)  # a "release" that is the source: solutions in it
    with pytest.raises(KitError, match="release/ is stale.*make release"):
        build_handout(course, ASSIGNMENT)
    shutil.rmtree(course / "release")
    with pytest.raises(KitError, match="make release"):
        build_handout(course, ASSIGNMENT)


def test_handout_command_writes_handout_zip_in_the_course(tmp_path, capsys):
    course = tmp_path / "course"
    shutil.copytree(SOURCE, course / "source" / ASSIGNMENT)
    shutil.copytree(RELEASE, course / "release" / ASSIGNMENT)
    shutil.copy(REPO / "nbgrader_config.py", course)
    assert main(["--course", str(course), "handout"]) == 0
    assert (course / "handout" / f"{ASSIGNMENT}.zip").is_file()
    assert f"handout/{ASSIGNMENT}.zip: {NOTEBOOK}" in capsys.readouterr().out


# Run by an isolated interpreter in the unzipped folder: execute the notebook given as argv[1] with nbclient,
# with one more cell (argv[2]) at the end, and write it back with its outputs.
RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(sys.argv[2]))
NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": "."}}).execute()
nbformat.write(nb, sys.argv[1])
"""
# The last cell: the checks came from the unzipped folder, and no folder of the course (but its venv, where the
# libraries are installed) is on the kernel's sys.path.
WHERE_FROM = """
import os, sys, backprop_checks
here = os.path.realpath(os.getcwd())
print("checks from", os.path.realpath(backprop_checks.__file__))
assert os.path.realpath(backprop_checks.__file__).startswith(here + os.sep)
venv = os.path.realpath(sys.prefix) + os.sep
course = [p for p in sys.path if p and os.path.realpath(p).startswith(COURSE + os.sep)
          and not os.path.realpath(p).startswith(venv)]
assert not course, f"the course folder is on sys.path: {course}"
"""


@pytest.mark.slow
def test_unzipped_handout_with_correct_answers_passes_every_visible_check(handout, tmp_path):
    folder = tmp_path / "student"  # pytest's tmp_path: outside the course folder
    folder.mkdir()
    assert not str(folder.resolve()).startswith(str(REPO.resolve()) + os.sep)
    for name, data in handout.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    work = folder / ASSIGNMENT
    notebook = work / NOTEBOOK
    write(build_submission(read(notebook), reference_answers(read(SOURCE / NOTEBOOK))), notebook)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "JUPYTER"))}
    env["HOME"] = str(tmp_path)
    process = subprocess.run([sys.executable, "-I", "-c", RUN_NOTEBOOK, str(notebook),
                              WHERE_FROM.replace("COURSE", repr(str(REPO.resolve())))],
                             cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    cells = read(notebook).cells
    errors = [(cell.metadata.get("nbgrader", {}).get("grade_id"), output.ename, output.evalue)
              for cell in cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert not errors, f"cells failed in the unzipped handout: {errors}"
    tests = [cell for cell in cells if cell.metadata.get("nbgrader", {}).get("grade")]
    assert len(tests) == len(graded_cells(read(SOURCE / NOTEBOOK))), "a test cell is missing"
    assert all(cell.execution_count for cell in cells if cell.cell_type == "code"), "every cell ran"
    printed = "".join(output.get("text", "") for output in cells[-1].outputs)
    assert f"checks from {work.resolve() / 'backprop_checks.py'}" in printed, printed
