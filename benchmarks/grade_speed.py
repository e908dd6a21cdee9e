"""Benchmark: stock serial ``nbgrader autograde`` against ``make grade`` on the same generated class.

Builds two identical temporary course folders with N generated submissions (a third correct, a third with
one of several common bugs, a third untouched) and, one after the other in one run, grades one with
``nbgrader autograde backprop`` (serial, as nbgrader ships) and the other with ``make grade`` (parallel
workers). It checks that both gradebooks hold identical grades and prints the wall time of each, their
ratio, and the seconds per submission next to the floor: a fresh kernel that only imports numpy and
scikit-learn (divided by the number of workers for the parallel floor). It then times ``make report``
(grades.csv, charts and every student's feedback, work stock autograde does not do) on the graded course.

    .venv/bin/python benchmarks/grade_speed.py [--submissions 24] [--workers N] [--keep FOLDER]

For each run it also prints how much of the machine other processes used meanwhile, so that a figure
measured on a busy machine can be told apart. Exit status 1 when the two gradebooks differ. This is a
measurement, not a test: run it on a quiet machine.
"""
import argparse
import ctypes
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coursekit.course.config import nbgrader_env
from coursekit.course.gradebook import snapshot
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
    """Run a command (output to a log in cwd); (wall seconds, share of the machine other processes used)."""
    busy, own, started = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
    with open(Path(cwd) / "benchmark.log", "a") as log:
        process = subprocess.run(command, cwd=cwd, env=nbgrader_env(), stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    reap_orphans()
    if process.returncode not in (0, 1):
        sys.exit(f"{' '.join(map(str, command))} failed (exit {process.returncode}): see {cwd}/benchmark.log")
    others = (machine_busy_seconds() - busy) - (own_cpu_seconds() - own)
    return seconds, max(0.0, others) / (seconds * os.cpu_count())


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
    parser.add_argument("--keep", type=Path, help="build the courses in this folder and keep them")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="grade-speed-"))
    workers, n = args.workers or default_workers(), args.submissions
    adopt_orphans()
    try:
        print(f"building 2 courses with {n} generated submissions in {folder} ...", flush=True)
        stock, ours = new_course(folder / "stock"), new_course(folder / "ours")
        release = read(stock / "release" / ASSIGNMENT / NOTEBOOK)
        reference = reference_answers(read(stock / "source" / ASSIGNMENT / NOTEBOOK))
        for student, nb in generated_class(release, reference, n).items():
            submit(stock, student, nb)
            submit(ours, student, nb)
        subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "--quiet", "setup"], check=True)
        make = ["make", "-C", str(REPO), "--no-print-directory", f"COURSE={ours}", f"WORKERS={workers}"]

        print("grading with stock serial 'nbgrader autograde' ...", flush=True)
        stock_seconds, stock_others = timed([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT], stock)
        print(f"grading with 'make grade' ({workers} workers) ...", flush=True)
        ours_seconds, ours_others = timed(make + ["grade"], ours)
        print(f"writing the report and the feedback with 'make report' ({workers} workers) ...", flush=True)
        report_seconds, report_others = timed(make + ["report"], ours)
        print("timing the floor (fresh kernel importing numpy and scikit-learn) ...", flush=True)
        floor = kernel_floor()

        stock_grades, our_grades = snapshot(stock, ASSIGNMENT), snapshot(ours, ASSIGNMENT)
        identical = stock_grades == our_grades and len(stock_grades) == n
        print(f"\n{n} submissions ({len(range(0, n, 3))} correct, {len(range(1, n, 3))} buggy, "
              f"{len(range(2, n, 3))} untouched), {os.cpu_count()} cores")
        rows = [("stock serial nbgrader autograde", stock_seconds, stock_others, ""),
                (f"make grade, {workers} workers", ours_seconds, ours_others,
                 f"{stock_seconds / ours_seconds:.2f}x faster than stock"),
                (f"make report (+ feedback), {workers} workers", report_seconds, report_others, "not done by stock")]
        for label, seconds, others, note in rows:
            print(f"  {label:<38} {seconds:6.1f} s  {seconds / n:5.2f} s/submission  {note:<28}"
                  f"(other processes used {others:.0%} of the machine meanwhile)")
        print(f"  target: make grade at least 1.7x faster than stock; floor (fresh kernel + numpy + scikit-learn): "
              f"{floor:.2f} s/submission serial, {floor / workers:.2f} s/submission with {workers} workers")
        print(f"  grades identical to stock: {'yes' if identical else 'NO'} "
              f"({len(stock_grades)} students, every cell's scores and comments compared)")
        if not identical:
            differing = sorted(s for s in set(stock_grades) | set(our_grades)
                               if stock_grades.get(s) != our_grades.get(s))
            print(f"  differing students: {', '.join(differing)}")
        return 0 if identical else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
