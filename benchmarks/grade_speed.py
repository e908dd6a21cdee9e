"""Benchmark: plain ``nbgrader autograde`` against ``make grade`` with every defence on, on the same class.

Builds two temporary course folders with the same N generated submissions (a third correct, a third with one
of several common bugs, a third untouched):

- ``stock``: nbgrader's DEFAULT settings, what an instructor would run instead of this kit: a minimal
  nbgrader_config.py of its own with only the course id and the code stub (no sandbox, no referee, none of
  this course's plug-ins), graded with ``nbgrader autograde backprop``, serial;
- ``ours``: this course's nbgrader_config.py (sandbox, referee, rebuild, kernel-safe execution), graded
  with ``make grade`` (parallel workers).

One after the other, in one run, it grades both and checks that every student has the same total both ways
(totals, not whole gradebooks: stock has no referee to write comments). It prints the wall time of each,
their ratio (the headline: the issue's target is at least 3x), and the CPU seconds of each run's processes
(``getrusage`` of the reaped descendants: this process is their subreaper; it misses the referee's
sandboxed workers, which are killed inside bubblewrap's pid namespace, where a killed process's CPU time is
not passed on to its parent: the phase split below counts them).

It then splits the CPU seconds per submission into phases (kernel and worker start-up, imports, the
student's cells, the tests, the referee, nbgrader's own bookkeeping) by grading one submission of each kind
(correct, buggy, untouched) again in each course with the profiler of ``profile_submission.py``, each in a
process of its own (``--phases N`` times, median): nbgrader's ``NbGraderAPI.autograde`` in-process with its
steps wrapped in ``time.process_time``, and the kernel's and the referee worker's process trees sampled with
psutil before and after every cell and call (see that file's docstring). The mean over the three kinds is a
submission of the generated class. Last it times ``make report`` (grades.csv, charts and every student's
feedback, work stock autograde does not do).

    .venv/bin/python benchmarks/grade_speed.py [--submissions 24] [--workers N] [--phases 1] [--keep FOLDER]

For each run it also prints how much of the machine other processes used meanwhile, so that a figure measured
on a busy machine can be told apart (CPU seconds are much less sensitive to that than wall time). Exit status
1 when a student's total differs. This is a measurement, not a test: run it on a quiet machine.
"""
import argparse
import ctypes
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coursekit.course.assignments import generate_assignment
from coursekit.course.config import nbgrader_env
from coursekit.course.gradebook import scores
from coursekit.course.notebooks import build_submission, read, reference_answers
from coursekit.grading import default_workers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "grader_tests"))
from support.course import ASSIGNMENT, NOTEBOOK, REPO, new_course, submit  # noqa: E402 (the tests' helpers)

BUGS = {
    "no-relu-mask": {"backward": '''
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = grad_logits @ params["W2"].T
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}'''},
    "no-mean": {"backward": '''
def backward(X, Y, params, cache):
    grad_logits = cache["probs"] - Y
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}'''},
    "relu-in-place": {"relu": '''
def relu(z):
    z[z < 0] = 0
    return z'''},
    "unstable-softmax": {"softmax": '''
def softmax(logits):
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)'''},
    "sgd-changes-grads": {"sgd_update": '''
def sgd_update(params, grads, learning_rate):
    for name in params:
        grads[name] *= learning_rate
        params[name] -= grads[name]
    return params'''},
}
PR_SET_CHILD_SUBREAPER = 36
KINDS = ("correct", "buggy", "untouched")
PHASES = ["kernel and worker start-up", "imports", "the student's cells", "the tests", "the referee",
          "nbgrader's own bookkeeping"]
PROFILER = Path(__file__).resolve().parent / "profile_submission.py"
# nbgrader's defaults: only what every course must set (its id) and the stub this kit's release uses, so that
# the release notebooks, and hence the submissions, are the same in both courses.
STOCK_CONFIG = """c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "backprop-course"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
"""


def kind_of(student):
    """correct, buggy or untouched, from a generated student id."""
    return next(kind for kind in KINDS if kind in student) if "bug-" not in student else "buggy"


def generated_class(release, reference, count):
    """student id -> notebook: correct, buggy (cycling through BUGS) and untouched submissions in turn."""
    bugs = list(BUGS.items())
    submissions = {}
    for i in range(count):
        kind = i % 3
        if kind == 0:
            submissions[f"s{i:03d}-correct"] = build_submission(release, reference)
        elif kind == 1:
            name, answers = bugs[(i // 3) % len(bugs)]
            submissions[f"s{i:03d}-bug-{name}"] = build_submission(release, {**reference, **answers})
        else:
            submissions[f"s{i:03d}-untouched"] = release
    return submissions


def stock_course(folder):
    """A course folder with this course's source/ and nbgrader's default settings, its release generated."""
    course = new_course(folder, generate=False)
    (course / "nbgrader_config.py").write_text(STOCK_CONFIG)
    generate_assignment(course, ASSIGNMENT)
    return course


def totals(course):
    """student -> total points of the assignment in the course's gradebook."""
    return {student: round(sum(cells.values()), 6) for student, cells in scores(course, ASSIGNMENT).items()}


def adopt_orphans():
    """Make this process the reaper of its orphaned descendants, so that their CPU time is counted as ours."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans(patience=15.0):
    """Wait for the orphaned descendants (a fork server outlives its parent for a moment) and reap them."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def machine_busy_seconds():
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    """CPU seconds used by this process's finished (reaped) descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command, cwd):
    """Run a command (output to a log in cwd); (wall seconds, CPU seconds of its processes, share of the
    machine other processes used)."""
    busy, own, started = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
    with open(Path(cwd) / "benchmark.log", "a") as log:
        process = subprocess.run(command, cwd=cwd, env=nbgrader_env(), stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    reap_orphans()
    if process.returncode not in (0, 1):
        sys.exit(f"{' '.join(map(str, command))} failed (exit {process.returncode}): see {cwd}/benchmark.log")
    cpu = own_cpu_seconds() - own
    others = (machine_busy_seconds() - busy) - cpu
    return seconds, cpu, max(0.0, others) / (seconds * os.cpu_count())


def profile_phases(course, student, repeat):
    """Phase -> (sandboxed CPU s, grader CPU s) of grading student again with profile_submission.py (warm,
    in a process of its own; the median of repeat runs), and the number of proxy calls."""
    runs = []
    for _ in range(repeat):
        process = subprocess.run([sys.executable, str(PROFILER), "--course", str(course), "--student", student,
                                  "--assignment", ASSIGNMENT, "--warm", "--json"], cwd=course, env=nbgrader_env(),
                                 capture_output=True, text=True)
        reap_orphans()
        if process.returncode != 0:
            sys.exit(f"profiling {student} in {course} failed: {process.stderr.strip()[-2000:]}")
        runs.append(json.loads(process.stdout.strip().splitlines()[-1]))
    phases = {name: tuple(statistics.median(run["phases"][name][i] for run in runs) for i in (0, 1))
              for name in PHASES}
    return phases, statistics.median(run["measure"]["calls"] for run in runs)


def phase_table(courses, students, repeat):
    """Print CPU seconds per submission by phase, for each course (the mean over one submission of each
    kind); return {course label: total CPU s per submission}."""
    results = {}
    for label, course in courses.items():
        per_kind = {}
        for kind in KINDS:
            student = next(s for s in students if kind_of(s) == kind)
            print(f"  profiling {label}: {student} ...", flush=True)
            per_kind[kind] = profile_phases(course, student, repeat)
        results[label] = per_kind
    labels = list(courses)
    print("\nCPU seconds per submission by phase (mean of one correct, one buggy and one untouched submission; "
          "kernel/worker + grader process):")
    print(f"  {'phase':<28}" + "".join(f"{label:>30}" for label in labels))
    totals_by_label = {}
    for name in PHASES + ["total"]:
        cells = []
        for label in labels:
            per_kind = results[label]
            if name == "total":
                pair = tuple(sum(per_kind[k][0][p][i] for p in PHASES for k in KINDS) / len(KINDS) for i in (0, 1))
                totals_by_label[label] = sum(pair)
            else:
                pair = tuple(sum(per_kind[k][0][name][i] for k in KINDS) / len(KINDS) for i in (0, 1))
            cells.append(f"{sum(pair):6.2f} ({pair[0]:.2f} + {pair[1]:.2f})")
        print(f"  {name:<28}" + "".join(f"{c:>30}" for c in cells))
    for label in labels:
        calls = {k: results[label][k][1] for k in KINDS}
        if any(calls.values()):
            print(f"  {label}: proxy calls of the referee per submission (answered from memory included): "
                  + ", ".join(f"{k} {int(v)}" for k, v in calls.items()))
    return totals_by_label


def kernel_floor(repeat=3):
    """Median seconds to start a fresh python3 kernel and import numpy and scikit-learn in it."""
    from jupyter_client.manager import start_new_kernel
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        km, kc = start_new_kernel(kernel_name="python3", stderr=subprocess.DEVNULL)
        kc.execute_interactive("import numpy, sklearn", timeout=120)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=24, help="how many submissions (default 24)")
    parser.add_argument("--workers", type=int, default=None, help="make grade's workers (default: one per core)")
    parser.add_argument("--phases", type=int, default=1,
                        help="profile each kind of submission this many times for the phase split (0: skip it)")
    parser.add_argument("--keep", type=Path, help="build the courses in this folder and keep them")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="grade-speed-"))
    workers, n = args.workers or default_workers(), args.submissions
    adopt_orphans()
    try:
        print(f"building 2 courses with {n} generated submissions in {folder} ...", flush=True)
        stock, ours = stock_course(folder / "stock"), new_course(folder / "ours")
        release = read(ours / "release" / ASSIGNMENT / NOTEBOOK)
        reference = reference_answers(read(ours / "source" / ASSIGNMENT / NOTEBOOK))
        students = generated_class(release, reference, n)
        for student, nb in students.items():
            submit(stock, student, nb)
            submit(ours, student, nb)
        subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "--quiet", "setup"], check=True)
        make = ["make", "-C", str(REPO), "--no-print-directory", f"COURSE={ours}", f"WORKERS={workers}"]

        print("grading with plain 'nbgrader autograde' (nbgrader's default settings, serial) ...", flush=True)
        stock_seconds, stock_cpu, stock_others = timed([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT],
                                                       stock)
        print(f"grading with 'make grade' ({workers} workers, every defence on) ...", flush=True)
        ours_seconds, ours_cpu, ours_others = timed(make + ["grade"], ours)

        stock_totals, our_totals = totals(stock), totals(ours)
        same = stock_totals == our_totals and len(stock_totals) == n
        print(f"\n{n} submissions ({len(range(0, n, 3))} correct, {len(range(1, n, 3))} buggy, "
              f"{len(range(2, n, 3))} untouched), {os.cpu_count()} cores")
        rows = [("plain nbgrader autograde, serial", stock_seconds, stock_cpu, stock_others, ""),
                (f"make grade, {workers} workers, defences on", ours_seconds, ours_cpu, ours_others,
                 f"{stock_seconds / ours_seconds:.2f}x faster than plain")]
        for label, seconds, cpu, others, note in rows:
            print(f"  {label:<40} {seconds:6.1f} s  {seconds / n:5.2f} s/submission  {cpu / n:5.2f} CPU s/submission"
                  f"  {note:<26}(other processes used {others:.0%} of the machine meanwhile)")
        print(f"  ratio: make grade is {stock_seconds / ours_seconds:.2f}x faster than plain nbgrader (wall time; "
              f"target at least 3x)")
        print("  (CPU s/submission: getrusage of the reaped processes; it misses the referee's workers, which are "
              "killed inside bubblewrap's pid namespace, where a killed process's CPU time is not passed on: the "
              "phase table below counts them)")
        for kind in KINDS:
            kind_totals = sorted({stock_totals.get(s) for s in students if kind_of(s) == kind} |
                                 {our_totals.get(s) for s in students if kind_of(s) == kind}, key=str)
            print(f"  {kind}: totals {', '.join(map(str, kind_totals))}")
        print(f"  same total for every student both ways: {'yes' if same else 'NO'} ({len(stock_totals)} students)")
        if not same:
            differing = sorted(s for s in set(stock_totals) | set(our_totals)
                               if stock_totals.get(s) != our_totals.get(s))
            print("  differing students: " + ", ".join(
                f"{s} (plain {stock_totals.get(s)}, make grade {our_totals.get(s)})" for s in differing))

        if args.phases > 0:
            print("\nsplitting the CPU time into phases (profile_submission.py, one submission of each kind) ...",
                  flush=True)
            per_submission = phase_table({"plain nbgrader": stock, "make grade, defences on": ours}, list(students),
                                         args.phases)
            print(f"  profiled CPU per submission: make grade {per_submission['make grade, defences on']:.2f} s, "
                  f"plain {per_submission['plain nbgrader']:.2f} s (workers run in parallel: the wall-time ratio "
                  f"also divides by the cores)")

        print(f"\nwriting the report and the feedback with 'make report' ({workers} workers) ...", flush=True)
        report_seconds, report_cpu, report_others = timed(make + ["report"], ours)
        print(f"  make report (+ feedback), {workers} workers: {report_seconds:.1f} s, {report_cpu:.1f} CPU s "
              f"(not done by plain autograde; other processes used {report_others:.0%} of the machine meanwhile)")
        print("timing the floor (fresh kernel importing numpy and scikit-learn) ...", flush=True)
        floor = kernel_floor()
        print(f"  floor: {floor:.2f} s/submission serial, {floor / workers:.2f} s/submission with {workers} workers")
        return 0 if same else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
