"""Benchmark: the local worker pool against a Dask LocalCluster, on the same generated class, in one run.

In each round, builds two identical temporary course folders with N generated submissions (as grade_speed.py: correct, buggy,
untouched), grades one with ``grade_class`` on this machine's pool and the other with ``grade_class(...,
scheduler=...)`` on a ``LocalCluster`` of as many single-threaded worker processes, checks that the two
gradebooks are identical cell by cell, and prints the wall time of each, their ratio, and the per-task overhead
of the cluster path (its seconds per submission minus the pool's, times the workers).

    .venv/bin/python benchmarks/cluster_speed.py [--submissions 12] [--workers N] [--rounds 2]

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
    parser.add_argument("--rounds", type=int, default=2, help="rounds, in the order pool, cluster, cluster, pool, "
                        "... so that neither engine always goes first (default 2)")
    args = parser.parse_args(argv)
    workers = args.workers or default_workers()
    import dask
    from distributed import LocalCluster
    seconds = {"pool": [], "cluster": []}
    same = True
    with tempfile.TemporaryDirectory() as folder, dask.config.set({"distributed.worker.daemon": False}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         dashboard_address=None) as local_cluster:
        submissions = None
        for round_ in range(args.rounds):
            order = ["pool", "cluster"] if round_ % 2 == 0 else ["cluster", "pool"]
            graded_courses = {}
            for engine in order:
                course = new_course(Path(folder) / f"{engine}-{round_}")
                if submissions is None:
                    release = read(course / "release" / ASSIGNMENT / NOTEBOOK)
                    reference = reference_answers(read(course / "source" / ASSIGNMENT / NOTEBOOK))
                    submissions = generated_class(release, reference, args.submissions)
                for student, nb in submissions.items():
                    submit(course, student, nb)
                scheduler = local_cluster.scheduler_address if engine == "cluster" else None
                seconds[engine].append(graded(course, workers, scheduler))
                graded_courses[engine] = course
            same = same and snapshot(graded_courses["pool"], ASSIGNMENT) == snapshot(graded_courses["cluster"],
                                                                                      ASSIGNMENT)
    n = args.submissions * args.rounds
    pool, cluster = sum(seconds["pool"]), sum(seconds["cluster"])
    print(f"{args.submissions} submissions x {args.rounds} rounds, {workers} workers each "
          f"(a LocalCluster of {workers} single-threaded worker processes, started once)")
    print(f"local pool:        {pool:6.1f} s ({pool / n:.2f} s per submission; rounds: "
          f"{', '.join(f'{s:.1f}' for s in seconds['pool'])})")
    print(f"Dask LocalCluster: {cluster:6.1f} s ({cluster / n:.2f} s per submission; rounds: "
          f"{', '.join(f'{s:.1f}' for s in seconds['cluster'])})")
    print(f"LocalCluster / pool: {cluster / pool:.2f}x; per-task overhead of the cluster path: "
          f"{(cluster - pool) * workers / n:.2f} s")
    print(f"gradebooks identical in every round: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
