"""Profile of one submission's autograde, end to end, in CPU seconds, split into phases.

Runs nbgrader's own ``NbGraderAPI.autograde`` in this process on one student of a course folder (the course's
nbgrader_config.py decides what runs: this kit's course has the sandbox and the referee, a stock course has
neither) and measures CPU time, never wall time, so the figures hold on a busy machine:

- this process (the grader): ``time.process_time`` around each of nbgrader's steps (their ``preprocess``
  methods are wrapped), and optionally cProfile with ``time.process_time`` as its clock;
- the kernel: psutil's CPU times of the kernel's process tree (bubblewrap, ``launch.py``, ipykernel), sampled
  before and after every cell; its start-up is what it used before the first cell, and what it used after the
  last one (shut-down) comes from ``getrusage(RUSAGE_CHILDREN)`` once it is reaped (this process is made the
  subreaper of its descendants, so nothing escapes the count);
- the referee's sandboxed worker: its process tree sampled when it reports ready (start-up, imports and the
  run of the student's cells) and before it is stopped (serving the proxy calls); every proxy call is
  counted, with the grader's CPU inside it, and so are those answered from memory (no round trip,
  ``Answers``). The split of the worker's start-up into the bare sandbox (bubblewrap + ``launch.py`` +
  Python), NumPy, and the cells' imports is measured separately afterwards by
  starting the worker with no cells, with only the import cell, and with all its cells (median of --repeat).

    .venv/bin/python benchmarks/profile_submission.py [--kind correct|buggy|untouched] [--course DIR
        --student ID] [--cprofile FILE] [--json]

Without --course it builds a temporary copy of this course with one generated submission of --kind.
"""
import argparse
import contextlib
import cProfile
import functools
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "grader_tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from grade_speed import adopt_orphans, reap_orphans  # noqa: E402 (the same subreaper)

PHASES = ["kernel and worker start-up", "imports", "the student's cells", "the tests", "the referee",
          "nbgrader's own bookkeeping"]


def children_cpu():
    """CPU seconds of this process's reaped descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pid_namespace(process):
    """The pid namespace of a psutil process, or None."""
    try:
        return os.readlink(f"/proc/{process.pid}/ns/pid")
    except OSError:
        return None


def tree_cpu(pid):
    """CPU seconds used so far by the process pid and all its descendants (living, and reaped by them), and by
    every process of their sandbox's pid namespace: a kernel forked by the zygote joins the sandbox of a
    bubblewrap without being its descendant."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    sandboxes = {pid_namespace(process) for process in processes[1:]} - {None, pid_namespace(root)}
    if sandboxes:
        processes += [process for process in psutil.process_iter()
                      if process not in processes and pid_namespace(process) in sandboxes]
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            t = process.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def cell_kind(cell):
    """'imports', 'tests' or 'cells' (the student's answers and the given code) for a notebook cell."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("grade") and not meta.get("solution"):
        return "tests"
    source = cell.get("source", "")
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if lines and all(line.startswith(("import ", "from ")) or line.startswith((" ", ")")) for line in lines):
        return "imports"
    return "cells"


class Meter:
    """Accumulates CPU seconds per key: grader (this process) and sandboxed (kernel, worker)."""

    def __init__(self):
        self.grader = defaultdict(float)
        self.sandboxed = defaultdict(float)
        self.cells = []  # (index, grade_id, kind, kernel CPU, grader CPU)
        self.calls = 0
        self.answered = 0  # calls answered from the stored answers, without a round trip
        self.call_grader = 0.0
        self.call_names = defaultdict(int)

    @contextlib.contextmanager
    def grader_time(self, key):
        started = time.process_time()
        try:
            yield
        finally:
            self.grader[key] += time.process_time() - started


def instrument(meter):
    """Wrap nbgrader's steps and the referee's plumbing so that meter records where the CPU goes."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor, ExecutePreprocessor
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds,
                                        IgnorePattern, LimitOutput, OverwriteCells, OverwriteKernelspec,
                                        SaveAutoGrades)
    import nbformat

    patches = []

    def wrap(owner, name, make):
        original = getattr(owner, name)
        setattr(owner, name, make(original))
        patches.append((owner, name, original if name in vars(owner) else None))

    def timed(key):
        def make(original):
            @functools.wraps(original)
            def wrapper(*args, **kwargs):
                with meter.grader_time(key):
                    return original(*args, **kwargs)
            return wrapper
        return make

    wrap(Autograde, "init_assignment", timed("bookkeeping: gradebook rows and copying source files"))
    # A preprocessor runs through its __call__ (nbconvert's Preprocessor): wrapped per class, so that a class
    # that inherits its preprocess method is counted once, under its own name.
    for cls in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells):
        wrap(cls, "__call__", timed("bookkeeping: sanitize pass"))
    try:
        from coursekit.preprocessors import RebuildFromSource
        wrap(RebuildFromSource, "__call__", timed("bookkeeping: sanitize pass"))
    except ImportError:
        pass
    wrap(CheckCellMetadata, "__call__", timed("bookkeeping: metadata checks"))
    for cls in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput):
        wrap(cls, "__call__", timed("bookkeeping: output filters"))
    wrap(SaveAutoGrades, "__call__", timed("bookkeeping: gradebook writes (SaveAutoGrades)"))
    wrap(AssignLatePenalties, "__call__", timed("bookkeeping: gradebook writes (SaveAutoGrades)"))
    wrap(nbformat, "read", timed("bookkeeping: reading and writing notebooks"))
    wrap(nbformat, "write", timed("bookkeeping: reading and writing notebooks"))
    wrap(nbformat, "validate", timed("bookkeeping: reading and writing notebooks"))

    state = {}

    def kernel_pid(executor):
        km = getattr(executor, "km", None)
        process = getattr(getattr(km, "provisioner", None), "process", None)
        return getattr(process, "pid", None)

    def execute_preprocess(original):
        @functools.wraps(original)
        def wrapper(self, nb, resources, *args, **kwargs):
            state.update(children=children_cpu(), last=0.0, grader=time.process_time(), started=False)
            try:
                return original(self, nb, resources, *args, **kwargs)
            finally:
                reap_orphans(0.5)
                kernel_total = children_cpu() - state["children"]
                meter.sandboxed["kernel: shut-down"] += max(0.0, kernel_total - state["last"])
                meter.grader["kernel: grader side, start and shut-down"] += time.process_time() - state["grader"]
        return wrapper

    def execute_cell(original):
        @functools.wraps(original)
        def wrapper(self, cell, resources, index):
            pid = kernel_pid(self)
            before = tree_cpu(pid) if pid else 0.0
            if not state["started"]:
                state["started"] = True
                meter.sandboxed["kernel: start-up (bwrap, launch.py, ipykernel)"] += before
                meter.grader["kernel: grader side, start and shut-down"] += time.process_time() - state["grader"]
                state["grader"] = time.process_time()
            grader_before = time.process_time()
            try:
                return original(self, cell, resources, index)
            finally:
                grader_spent = time.process_time() - grader_before
                after = tree_cpu(pid) if pid else before
                state["last"] = max(after, state["last"])
                state["grader"] += grader_spent  # not part of start and shut-down
                if cell.cell_type == "code":
                    meta = cell.get("metadata", {}).get("nbgrader", {})
                    meter.cells.append((index, meta.get("grade_id", ""), cell_kind(cell), after - before,
                                        grader_spent))
        return wrapper

    wrap(ExecutePreprocessor, "preprocess", execute_preprocess)  # nbgrader's Execute, or coursekit's subclass
    wrap(ExecutePreprocessor, "preprocess_cell", execute_cell)

    try:
        from coursekit.preprocessors import Referee
        from coursekit.sandbox import functions
    except ImportError:
        return patches
    wrap(Referee, "preprocess", timed("referee: all of it, grader side"))

    def student_init(original):
        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):
            grader, children = time.process_time(), children_cpu()
            state["worker"] = None
            try:
                original(self, *args, **kwargs)
            finally:
                meter.grader["referee: worker start, grader side"] += time.process_time() - grader
                if getattr(self, "process", None) is not None:
                    ready = tree_cpu(self.process.pid)
                    state["worker"] = (self.process.pid, ready, children)
                    meter.sandboxed["referee worker: start-up, imports and the student's cells"] += ready
        return wrapper

    def student_call(original):
        @functools.wraps(original)
        def wrapper(self, name, args, *rest, **kwargs):
            meter.calls += 1
            meter.call_names[name] += 1
            started, stored = time.process_time(), self.answers.hits
            try:
                return original(self, name, args, *rest, **kwargs)
            finally:
                meter.call_grader += time.process_time() - started
                meter.answered += self.answers.hits - stored
        return wrapper

    def student_close(original):
        @functools.wraps(original)
        def wrapper(self):
            # Sampled before the worker is killed: the CPU time of a process killed in bubblewrap's pid namespace
            # is not passed on to its parents, so getrusage would miss it.
            worker = state.pop("worker", None)
            if worker:
                meter.sandboxed["referee worker: serving the proxy calls"] += max(0.0, tree_cpu(worker[0]) - worker[1])
            original(self)
        return wrapper

    wrap(functions.StudentProcess, "__init__", student_init)
    wrap(functions.StudentProcess, "call", student_call)
    wrap(functions.StudentProcess, "close", student_close)
    return patches


def unpatch(patches):
    for owner, name, original in reversed(patches):
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


def profile_autograde(course, student, assignment="backprop", cprofile=None):
    """Autograde one submission in this process; a dict of the measurements (see the module's docstring)."""
    from nbgrader.apps.api import NbGraderAPI

    from coursekit.course.config import course_directory
    meter = Meter()
    patches = instrument(meter)
    previous = os.getcwd()
    os.chdir(course)
    try:
        api = NbGraderAPI(config=course_directory(course).config)
        profiler = cProfile.Profile(time.process_time) if cprofile else None
        grader, children = time.process_time(), children_cpu()
        if profiler:
            profiler.enable()
        result = api.autograde(assignment, student, force=True, create=True)
        if profiler:
            profiler.disable()
        reap_orphans(1.0)
        grader_total, children_total = time.process_time() - grader, children_cpu() - children
    finally:
        os.chdir(previous)
        unpatch(patches)
    if not result["success"]:
        raise RuntimeError(f"autograde of {student} failed: {result.get('error') or result.get('log')[-2000:]}")
    if profiler:
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(60)
        stream.write("\n\n")
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(40)
        Path(cprofile).write_text(stream.getvalue())
    return {"grader_total": grader_total, "children_total": children_total, "grader": dict(meter.grader),
            "sandboxed": dict(meter.sandboxed), "cells": meter.cells, "calls": meter.calls, "answered": meter.answered,
            "call_names": dict(meter.call_names), "call_grader": meter.call_grader}


def phases(m):
    """The six phases of the issue, each (sandboxed CPU s, grader CPU s), from profile_autograde's dict."""
    sandboxed, grader = m["sandboxed"], m["grader"]
    by_kind = defaultdict(lambda: [0.0, 0.0])
    for _, _, kind, kernel, grader_cpu in m["cells"]:
        by_kind[kind][0] += kernel
        by_kind[kind][1] += grader_cpu
    kernel_grader = grader.get("kernel: grader side, start and shut-down", 0.0)
    worker_ready = sandboxed.get("referee worker: start-up, imports and the student's cells", 0.0)
    referee_grader = grader.get("referee: all of it, grader side", 0.0)
    known_grader = kernel_grader + sum(v[1] for v in by_kind.values()) + referee_grader
    bookkeeping_grader = m["grader_total"] - known_grader
    known_sandboxed = sum(sandboxed.values()) + sum(v[0] for v in by_kind.values())
    return {
        "kernel and worker start-up": (sandboxed.get("kernel: start-up (bwrap, launch.py, ipykernel)", 0.0)
                                       + sandboxed.get("kernel: shut-down", 0.0), kernel_grader),
        "imports": tuple(by_kind["imports"]),
        "the student's cells": tuple(by_kind["cells"]),
        "the tests": tuple(by_kind["tests"]),
        "the referee": (worker_ready + sandboxed.get("referee worker: serving the proxy calls", 0.0),
                        referee_grader),
        "nbgrader's own bookkeeping": (max(0.0, m["children_total"] - known_sandboxed), bookkeeping_grader),
    }


def worker_split(course, student, assignment="backprop", repeat=3):
    """Median CPU seconds of the referee's worker started with no cells, the import cell only, and all its
    cells (as the referee starts it), in the autograded folder of the submission; None without a referee."""
    try:
        from coursekit.preprocessors.referee import Referee
        from coursekit.sandbox import Sandbox, instructor_folder
        from coursekit.sandbox.functions import StudentProcess
    except ImportError:
        return None
    import nbformat
    from nbgrader import utils

    from coursekit.course.config import course_directory
    from coursekit.course.notebooks import nbgrader_meta
    config = course_directory(course).config
    referee = Referee(config=config)
    if not referee.enabled:
        return None
    folder = Path(course) / "autograded" / student / assignment
    nb = nbformat.read(next(folder.glob("*.ipynb")), as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and not utils.is_grade(c)
             and nbgrader_meta(c).get("grade_id") not in referee.skip_cells]
    imports = [c.source for c in nb.cells if c.cell_type == "code" and cell_kind(c) == "imports"]
    sandbox = Sandbox(config=config)
    instructor = instructor_folder(config, assignment)
    kwargs = {"instructor": instructor} if "instructor" in StudentProcess.__init__.__code__.co_varnames else {}

    def run(worker_cells):
        times = []
        for _ in range(repeat):
            worker = StudentProcess(worker_cells, str(folder), sandbox, 120, **kwargs)
            times.append(tree_cpu(worker.process.pid))  # when it is ready: before it is killed (see above)
            worker.close()
            reap_orphans(0.5)
        return statistics.median(times)

    bare = []
    for _ in range(repeat):
        before = children_cpu()
        subprocess.run(sandbox.wrap([sys.executable, "-c", "pass"], str(folder)), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=folder)
        reap_orphans(0.5)
        bare.append(children_cpu() - before)
    return {"sandbox + python": statistics.median(bare), "worker, no cells (+ numpy)": run([]),
            "worker, import cell": run(imports), "worker, all its cells": run(cells)}


def format_table(m, split=None):
    """The profile as a Markdown table."""
    rows = [("phase", "sandboxed CPU s", "grader CPU s", "total")]

    def row(label, pair):
        rows.append((label, f"{pair[0]:.2f}", f"{pair[1]:.2f}", f"{pair[0] + pair[1]:.2f}"))

    p = phases(m)
    for name in PHASES:
        row(f"**{name}**", p[name])
        if name == "kernel and worker start-up":
            row("  kernel start-up (bwrap + launch.py + ipykernel), before the first cell",
                (m["sandboxed"].get("kernel: start-up (bwrap, launch.py, ipykernel)", 0.0),
                 m["grader"].get("kernel: grader side, start and shut-down", 0.0)))
            row("  kernel shut-down", (m["sandboxed"].get("kernel: shut-down", 0.0), 0.0))
        if name == "the student's cells":
            for _, grade_id, kind, kernel, grader_cpu in m["cells"]:
                if kind == "cells" and kernel + grader_cpu >= 0.02:
                    row(f"  cell {grade_id or '(no id)'}", (kernel, grader_cpu))
        if name == "the tests":
            for _, grade_id, kind, kernel, grader_cpu in m["cells"]:
                if kind == "tests" and kernel + grader_cpu >= 0.02:
                    row(f"  cell {grade_id}", (kernel, grader_cpu))
        if name == "the referee" and m["grader"].get("referee: all of it, grader side"):
            ready = m["sandboxed"].get("referee worker: start-up, imports and the student's cells", 0.0)
            start_grader = m["grader"].get("referee: worker start, grader side", 0.0)
            row("  worker: start-up, imports and the run of the student's cells", (ready, start_grader))
            if split:
                rows.append(("    of which the bare sandbox (bwrap + launch.py + python -c pass)",
                             f"{split['sandbox + python']:.2f}", "", ""))
                rows.append(("    of which worker start, no cells (a fork of the zygote when kernels are preloaded)",
                             f"{split['worker, no cells (+ numpy)']:.2f}", "", ""))
                rows.append(("    of which the import cell (matplotlib, scikit-learn, checks)",
                             f"{split['worker, import cell'] - split['worker, no cells (+ numpy)']:.2f}", "", ""))
                rows.append(("    of which the other cells (definitions, data)",
                             f"{split['worker, all its cells'] - split['worker, import cell']:.2f}", "", ""))
            calls = m["calls"]
            serving = m["sandboxed"].get("referee worker: serving the proxy calls", 0.0)
            names = ", ".join(f"{k} {v}" for k, v in sorted(m["call_names"].items(), key=lambda kv: -kv[1]))
            row(f"  proxy calls: {calls} ({names}), {m.get('answered', 0)} answered from memory; per call "
                f"{1e6 * (serving + m['call_grader']) / max(calls, 1):.0f} us CPU", (serving, m["call_grader"]))
            trusted = m["grader"]["referee: all of it, grader side"] - start_grader - m["call_grader"]
            row("  grader-side run of the trusted cells (without the calls)", (0.0, trusted))
        if name == "nbgrader's own bookkeeping":
            for key, value in sorted(m["grader"].items()):
                if key.startswith("bookkeeping"):
                    row("  " + key.split(": ", 1)[1], (0.0, value))
            known = sum(v for k, v in m["grader"].items() if k.startswith("bookkeeping"))
            row("  the rest (nbgrader's app and config, exporter, logging)",
                (0.0, p[name][1] - known))
    total = sum(sum(p[n]) for n in PHASES)
    rows.append(("**total**", f"{sum(p[n][0] for n in PHASES):.2f}", f"{sum(p[n][1] for n in PHASES):.2f}",
                 f"{total:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for i, r in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(widths[j]) for j, c in enumerate(r)) + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def sample_course(folder, kind):
    """A copy of this course with one generated submission of kind; (course, student)."""
    from coursekit.course.notebooks import build_submission, read, reference_answers
    from support.course import ASSIGNMENT, NOTEBOOK, new_course, submit
    from grade_speed import BUGS
    course = new_course(Path(folder) / "course")
    release = read(course / "release" / ASSIGNMENT / NOTEBOOK)
    reference = reference_answers(read(course / "source" / ASSIGNMENT / NOTEBOOK))
    answers = {"correct": reference, "buggy": {**reference, **BUGS["no-relu-mask"]}, "untouched": {}}[kind]
    nb = build_submission(release, answers) if answers else release
    submit(course, f"{kind}-student", nb)
    return course, f"{kind}-student"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=["correct", "buggy", "untouched"], default="correct")
    parser.add_argument("--course", type=Path, help="an existing course folder (with --student)")
    parser.add_argument("--student")
    parser.add_argument("--assignment", default="backprop")
    parser.add_argument("--cprofile", type=Path, help="write cProfile's statistics (CPU clock) to this file")
    parser.add_argument("--split", action="store_true", help="also split the referee worker's start-up")
    parser.add_argument("--warm", action="store_true",
                        help="grade once before measuring (nbgrader's imports and first-use costs out of the way, "
                             "as in make grade's long-lived workers)")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args(argv)
    adopt_orphans()
    folder = None
    if args.course:
        course, student = args.course.resolve(), args.student
    else:
        folder = Path(tempfile.mkdtemp(prefix="profile-"))
        course, student = sample_course(folder, args.kind)
    try:
        if args.warm:
            profile_autograde(course, student, args.assignment)
        m = profile_autograde(course, student, args.assignment, args.cprofile)
        split = worker_split(course, student, args.assignment) if args.split else None
        if args.json:
            print(json.dumps({"measure": m, "phases": phases(m), "split": split}))
        else:
            print(format_table(m, split))
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
