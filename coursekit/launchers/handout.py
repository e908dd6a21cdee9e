"""The student handout: ``handout/<assignment>.zip``, everything a student needs and nothing of source/.

The zip holds one folder, ``<assignment>/``, with:

- every file of ``release/<assignment>/`` byte for byte: the student notebook(s) exactly as
  ``nbgrader generate_assignment`` wrote them, and the files their cells import (the visible checks);
- ``README.md``: a one-page guide for students (open, check, restart and run all, submit);
- ``requirements.txt``: only what the notebook imports, at the versions pinned in the course's
  requirements.txt, plus JupyterLab to open it.

It is built from release/ alone, so it holds nothing of source/ beyond what release/ has; a release that still
holds solution or hidden-test markers (a stale or hand-edited release/) is refused. Students who get the
assignment through JupyterHub fetch the same release/ with nbgrader's Assignment List instead.
"""
import ast
import importlib.metadata
import re
import sys
import zipfile
from pathlib import Path

from ..course.assignments import notebooks
from ..course.config import REPO
from ..course.notebooks import HIDDEN_MARKERS, SOLUTION_MARKERS, read
from ..errors import KitError

HANDOUT = "handout"
SKIPPED = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}
# Always in the requirements: what opens the notebook (it brings the kernel, ipykernel, along).
ALWAYS = ["jupyterlab"]

README = """\
# {assignment}

This folder holds the exercise: `{notebooks}`, the notebook you work in, and the file(s) its checks
come from ({helpers}). Keep them together in one folder.

## 1. Open the notebook

Pick one:

- **JupyterLab** on your machine (Python 3.10 or newer):

  ```sh
  python -m venv .venv
  .venv/bin/pip install -r requirements.txt      # Windows: .venv\\Scripts\\pip install -r requirements.txt
  .venv/bin/jupyter lab {first}                   # Windows: .venv\\Scripts\\jupyter lab {first}
  ```

- **VS Code** with the Python and Jupyter extensions: open this folder, install the requirements into the
  Python environment you pick as the notebook's kernel (`pip install -r requirements.txt`), open `{first}`.
- **Google Colab**: File > Upload notebook > `{first}`; then upload {helpers} into the session's files
  (the folder icon on the left), next to the notebook. Colab already has the libraries this needs.

## 2. Work and check

Replace each `raise NotImplementedError()` with your code. Run it (Shift+Enter) and run the test cell below
it: the visible checks print what is wrong and where to look. Do not edit or delete the test cells, and keep
the function names: the grader restores the test cells and looks for your functions by name.

The grader also runs hidden checks on other inputs (other shapes, other seeds), so write code that works for
any size, not just the example's.

## 3. Before you submit

Use **Kernel > Restart Kernel and Run All Cells** (VS Code: *Restart*, then *Run All*). Every cell must run
from top to bottom without an error in a fresh kernel: that is how the grader runs your notebook.
Then save it.

## 4. Submit

- **Through the LMS (Canvas, Moodle)**: upload `{first}` (the .ipynb file itself, not a zip, a PDF or a
  copy with another name's contents) to the assignment. You may upload again before the deadline: the
  latest upload counts.
- **On the course's JupyterHub**: fetch the assignment in the *Assignment List* tab, work in that copy, and
  press *Submit* there. Your feedback appears in the same list after grading.
"""


def release_files(course, assignment):
    """The files of release/<assignment> (checkpoints and caches left out), sorted; KitError when unusable."""
    folder = Path(course) / "release" / assignment
    notebooks(course, assignment, "release")  # a clear error when there is no release yet
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not SKIPPED & set(p.relative_to(folder).parts))
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        for marker in SOLUTION_MARKERS + HIDDEN_MARKERS:
            if marker in text:
                raise KitError(f"{path} still holds {marker!r}: release/ is stale or was edited by hand; "
                               f"run 'make release' (python -m coursekit release {assignment}) and try again")
    return folder, files


def code_imports(code):
    """Top-level module names that the Python code imports (IPython magics and shell lines left out)."""
    lines = [line for line in code.split("\n") if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:  # a stub a student has to finish; read the import lines alone
        found = set()
        for line in lines:
            match = re.match(r"\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", line)
            if match:
                found.add((match[1] or match[2]).split(".")[0])
        return found
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def release_imports(folder, files):
    """(modules the release's code imports from outside, the release's own modules): the notebooks' code cells
    and the release's .py files, standard library left out."""
    # the release's own modules: its top-level .py files and its folders (packages)
    local = {p.relative_to(folder).parts[0].removesuffix(".py") for p in files if p.suffix == ".py"}
    imported = set()
    for path in files:
        if path.suffix == ".ipynb":
            imported |= set().union(*[code_imports(c.source) for c in read(path).cells if c.cell_type == "code"])
        elif path.suffix == ".py":
            imported |= code_imports(path.read_text())
    return sorted(imported - local - set(sys.stdlib_module_names) - {"__future__"}), sorted(local)


def pinned_versions(course):
    """distribution name (normalized) -> (name as written, version) from the course's requirements.txt (the
    repo's when the course has none)."""
    path = Path(course) / "requirements.txt"
    path = path if path.exists() else REPO / "requirements.txt"
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", line)
        if match:
            pins[normalize(match[1])] = (match[1], match[2])
    return pins


def normalize(name):
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(course, modules):
    """The requirements lines for the modules: each module's distribution at its pinned version, + ALWAYS."""
    pins = pinned_versions(course)
    by_module = importlib.metadata.packages_distributions()
    lines = {}
    for module in list(modules) + ALWAYS:
        dists = by_module.get(module, [module])
        for dist in dists:
            if normalize(dist) in pins:
                name, version = pins[normalize(dist)]
                lines[normalize(name)] = f"{name}=={version}"
                break
        else:
            raise KitError(f"the notebook imports {module!r}, but no distribution of it ({', '.join(dists)}) is "
                           "pinned in requirements.txt: add it there (name==version) and run the handout again")
    return [lines[key] for key in sorted(lines)]


def handout_contents(course, assignment):
    """name in the zip -> bytes: the release's files, README.md and requirements.txt, under <assignment>/."""
    folder, files = release_files(course, assignment)
    modules, local = release_imports(folder, files)
    notebook_names = [p.name for p in files if p.suffix == ".ipynb"]
    helpers = [p.relative_to(folder).as_posix() for p in files if p.suffix != ".ipynb"]
    contents = {f"{assignment}/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in files}
    for name in ("README.md", "requirements.txt"):
        if f"{assignment}/{name}" in contents:
            raise KitError(f"release/{assignment}/{name} would be replaced by the handout's own {name}: rename it")
    readme = README.format(assignment=assignment, notebooks="`, `".join(notebook_names), first=notebook_names[0],
                           helpers=", ".join(f"`{h}`" for h in helpers) or "none")
    contents[f"{assignment}/README.md"] = readme.encode()
    contents[f"{assignment}/requirements.txt"] = (
        f"# what {', '.join(notebook_names)} needs: pip install -r requirements.txt\n"
        + "\n".join(requirements(course, modules)) + "\n").encode()
    return contents


def build_handout(course, assignment, out=None):
    """Write the handout zip (default: <course>/handout/<assignment>.zip); returns its path."""
    course = Path(course)
    contents = handout_contents(course, assignment)
    out = Path(out) if out is not None else course / HANDOUT / f"{assignment}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    partial.replace(out)
    return out


def run_handout(course, assignment):
    """The handout command: build the zip, say what it holds; the exit status."""
    path = build_handout(course, assignment)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    print(f"{path.relative_to(Path(course).resolve()) if path.is_relative_to(Path(course).resolve()) else path}: "
          f"{', '.join(n.split('/', 1)[1] for n in names)}")
    print("give it to the students (an LMS download, a link); they unzip it and follow its README.md")
    return 0
