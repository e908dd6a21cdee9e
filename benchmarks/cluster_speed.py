"""Benchmark: the local worker pool against a Dask LocalCluster, on the same generated class, in one run.

Builds two identical temporary course folders with N generated submissions (as grade_speed.py: correct, buggy,
untouched), grades one with ``grade_class`` on this machine's pool and the other with ``grade_class(...,
scheduler=...)`` on a ``LocalCluster`` of as many single-threaded worker processes, checks that the two
gradebooks are identical cell by cell, and prints the wall time of each, their ratio, and the per-task overhead
of the cluster path (its seconds per submission minus the pool's, times the workers).

    .venv/bin/python benchmarks/cluster_speed.py [--submissions 12] [--workers N]

A measurement, not a test: run it on a quiet machine. Exit status 1 when the gradebooks differ.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from coursekit.course.gradebook import snapshot
from coursekit.course.notebooks import read, reference_answers
from coursekit.grading import default_workers, grade_class
from coursekit.grading.progress import LineProgress

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "grader_tests"))
from grade_speed import generated_class  # noqa: E402 (the same generated class)
from support.course import ASSIGNMENT, NOTEBOOK, new_course, submit  # noqa: E402 (the tests' helpers)


def graded(course, workers, scheduler=None):
    """Seconds to grade every submission of the course."""
    started = time.monotonic()
    grade_class(course, ASSIGNMENT, workers=workers, scheduler=scheduler, progress=LineProgress(open(os.devnull, "w")))
    return time.monotonic() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=12, help="how many submissions (default 12)")
    parser.add_argument("--workers", type=int, default=None, help="workers of each engine (default: one per core)")
    args = parser.parse_args(argv)
    workers = args.workers or default_workers()
    import dask
    from distributed import LocalCluster
    with tempfile.TemporaryDirectory() as folder:
        local, cluster = new_course(Path(folder) / "local"), new_course(Path(folder) / "cluster")
        release = read(local / "release" / ASSIGNMENT / NOTEBOOK)
        reference = reference_answers(read(local / "source" / ASSIGNMENT / NOTEBOOK))
        for student, nb in generated_class(release, reference, args.submissions).items():
            submit(local, student, nb)
            submit(cluster, student, nb)
        local_seconds = graded(local, workers)
        with dask.config.set({"distributed.worker.daemon": False}), \
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=None) as local_cluster:
            cluster_seconds = graded(cluster, workers, local_cluster.scheduler_address)
        same = snapshot(local, ASSIGNMENT) == snapshot(cluster, ASSIGNMENT)
    n = args.submissions
    print(f"{n} submissions, {workers} workers")
    print(f"local pool:        {local_seconds:6.1f} s ({local_seconds / n:.2f} s per submission)")
    print(f"Dask LocalCluster: {cluster_seconds:6.1f} s ({cluster_seconds / n:.2f} s per submission)")
    print(f"LocalCluster / pool: {cluster_seconds / local_seconds:.2f}x; per-task overhead of the cluster path: "
          f"{(cluster_seconds - local_seconds) * workers / n:.2f} s")
    print(f"gradebooks identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
