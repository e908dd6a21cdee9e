"""Grading on a Dask cluster records exactly what grading on this machine records, and loses nothing.

One mixed batch (correct, buggy, untouched, a kernel that exits, a loop that ignores interrupts, a notebook
under another name, a folder without a notebook) is graded on this machine once, then on a Dask ``LocalCluster``, on real ``dask
scheduler`` and ``dask worker`` processes (one killed partway through), and through a scheduler that goes
away; every gradebook is compared with the local one cell by cell.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from coursekit.course.config import nbgrader_env
from coursekit.course.gradebook import snapshot
from coursekit.course.notebooks import build_submission, reference_answers
from coursekit.grading import grade_class
from coursekit.grading.progress import LineProgress
from support.answers import BACKWARD_WITHOUT_RELU_MASK
from support.course import ASSIGNMENT, new_course, submit

pytestmark = pytest.mark.slow

DASK_ENV = {"DASK_DISTRIBUTED__WORKER__DAEMON": "False"}  # workers start kernels: they may have children
ANSWERS = {
    "correct": {},
    "no-relu-mask": {"backward": BACKWARD_WITHOUT_RELU_MASK},
    "exits": {"softmax": "+\nimport os\nos._exit(1)"},
    "loops": {"sgd_update": "+\nimport signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                            "while True:\n    time.sleep(0.05)"},
}


def notebook(release_nb, reference, answers):
    """The reference solution with answers replacing cells, or appended to them when they start with '+'."""
    code = {c: reference[c] + text[1:] if text.startswith("+") else text for c, text in answers.items()}
    return build_submission(release_nb, {**reference, **code})


@pytest.fixture(scope="module")
def batch(tmp_path_factory, source_nb, release_nb):
    """A course with the batch submitted, nothing graded; a cell (and one call of the referee) may take 15 s (the
    set-up cell's imports take 2-3 s of CPU on 2 shared cores), so the loop costs about 35 s per grading run."""
    course = new_course(tmp_path_factory.mktemp("cluster") / "course")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nc.Execute.timeout = 15\n")
    reference = reference_answers(source_nb)
    for student, answers in ANSWERS.items():
        submit(course, student, notebook(release_nb, reference, answers))
    submit(course, "untouched", release_nb)
    submit(course, "renamed", notebook(release_nb, reference, {}), notebook="backprop (1).ipynb")
    (course / "submitted" / "missing" / ASSIGNMENT).mkdir(parents=True)
    return course


def copy_of(course, folder):
    return shutil.copytree(course, folder / "course")


def grade(course, **options):
    return grade_class(course, ASSIGNMENT, time_limit=240, progress=LineProgress(open(os.devnull, "w")), **options)


@pytest.fixture(scope="module")
def local(batch, tmp_path_factory):
    """(gradebook snapshot, attention) of the batch graded on this machine with 2 workers."""
    course = copy_of(batch, tmp_path_factory.mktemp("local"))
    run = grade(course, workers=2)
    return snapshot(course, ASSIGNMENT), run.attention


def test_local_grading_of_the_batch_is_as_expected(local):
    grades, attention = local
    assert set(grades) == {*ANSWERS, "untouched", "renamed", "missing"}
    assert set(attention) == {"exits", "loops", "renamed", "missing"}, attention


@pytest.fixture(scope="module")
def on_local_cluster(batch, tmp_path_factory):
    """The batch graded on a LocalCluster of 2 workers in three runs: "correct" alone, then the rest, then again
    with nothing changed: (course, the second run, the third run)."""
    import dask
    from distributed import LocalCluster
    course = copy_of(batch, tmp_path_factory.mktemp("local-cluster"))
    with dask.config.set({"distributed.worker.daemon": False}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        grade(course, scheduler=cluster.scheduler_address, students=["correct"])
        rest = grade(course, scheduler=cluster.scheduler_address)
        again = grade(course, scheduler=cluster.scheduler_address)
    return course, rest, again


def test_local_cluster_grades_equal_local_grades(on_local_cluster, local):
    course, rest, _ = on_local_cluster
    assert rest.attention == local[1]
    assert snapshot(course, ASSIGNMENT) == local[0]
    assert sorted(p.name for p in (course / "autograded" / "correct" / ASSIGNMENT).iterdir()) == sorted(
        ["backprop.ipynb", "backprop_checks.py"]), "the autograded folder did not come back from the worker"


def test_a_run_on_the_cluster_grades_only_what_the_last_run_left(on_local_cluster, local):
    _, rest, _ = on_local_cluster
    assert "correct" in rest.up_to_date and len(rest.graded) == len(local[0]) - 1


def test_a_run_with_nothing_changed_grades_nothing_on_the_cluster(on_local_cluster, local):
    _, _, again = on_local_cluster
    assert not again.graded and len(again.up_to_date) == len(local[0])


def test_a_cluster_worker_grades_task_after_task_in_one_unpinned_grading_process(batch, local, tmp_path):
    """remote.grade_remotely, as a Dask worker's thread runs it: one grading process for every task (no new
    process and kernel zygote per submission), on every core (other Dask workers may share the machine)."""
    from coursekit.grading import remote
    from coursekit.grading.local import close_pool
    course = copy_of(batch, tmp_path)
    bundle = remote.assignment_bundle(course, ASSIGNMENT, 240)
    pids, scores = [], {}
    try:
        for student in ("correct", "no-relu-mask"):
            folder = course / "submitted" / student / ASSIGNMENT
            graded = remote.grade_remotely(bundle, remote.submission_bundle(course, ASSIGNMENT, student, folder))
            scores[student] = graded.result.score
            (worker,) = remote._pools[threading.get_ident()][1]
            pids.append(worker.process.pid)
            assert os.sched_getaffinity(worker.process.pid) == os.sched_getaffinity(0), "the worker was pinned"
    finally:
        close_pool(remote._pools.pop(threading.get_ident(), (None, []))[1])
    assert pids[0] == pids[1], "the second task started a grading process of its own"
    assert scores == {student: sum(cell[0] or 0 for cell in local[0][student]["cells"].values())
                      for student in scores}


class DaskProcesses:
    """``dask scheduler`` and ``dask worker`` processes on loopback, each in a folder of its own."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.processes = {}

    def start_scheduler(self):
        scheduler_file = self.folder / "scheduler.json"
        scheduler_file.unlink(missing_ok=True)
        self.start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                 "--scheduler-file", str(scheduler_file)])
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.2)
        import json
        time.sleep(0.2)
        self.address = json.loads(scheduler_file.read_text())["address"]
        return self.address

    def start_worker(self, name):
        self.start(name, ["worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                          "--name", name, "--local-directory", str(self.folder / name)])

    def start(self, name, args):
        cwd = self.folder / name
        cwd.mkdir(parents=True, exist_ok=True)
        env = {**nbgrader_env(), **DASK_ENV}
        self.processes[name] = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_" + args[0],
                                                 *args[1:]], cwd=cwd, env=env, start_new_session=True,
                                                stdout=subprocess.DEVNULL, stderr=open(cwd / "log.txt", "w"))

    def wait_for_workers(self, count):
        from distributed import Client
        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(count, timeout=120)

    def kill(self, name):
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self):
        for name in list(self.processes):
            self.kill(name)


@pytest.fixture
def dask_processes(tmp_path):
    processes = DaskProcesses(tmp_path / "dask")
    yield processes
    processes.stop()


def recorded(course):
    """How many outcomes the grade command has recorded so far in the course."""
    import json
    try:
        return len(json.loads((course / "autograded" / ".coursekit" / f"{ASSIGNMENT}.json").read_text())["students"])
    except (OSError, ValueError):
        return 0


def test_a_worker_killed_partway_loses_nothing(batch, local, tmp_path, dask_processes):
    course = copy_of(batch, tmp_path)
    dask_processes.start_scheduler()
    dask_processes.start_worker("worker-1")
    dask_processes.start_worker("worker-2")
    dask_processes.wait_for_workers(2)
    result = {}
    thread = threading.Thread(target=lambda: result.update(run=grade(course, scheduler=dask_processes.address)))
    thread.start()
    deadline = time.monotonic() + 300
    while recorded(course) < 2 and thread.is_alive():
        assert time.monotonic() < deadline, "the cluster graded nothing"
        time.sleep(0.2)
    dask_processes.kill("worker-1")
    thread.join(600)
    assert not thread.is_alive() and "run" in result, "grading did not finish after a worker was killed"
    assert result["run"].attention == local[1]
    assert snapshot(course, ASSIGNMENT) == local[0]


def test_a_lost_scheduler_is_a_one_line_error_and_the_next_run_finishes(batch, local, tmp_path, dask_processes):
    course = copy_of(batch, tmp_path)
    address = dask_processes.start_scheduler()
    dask_processes.start_worker("worker-1")
    dask_processes.wait_for_workers(1)
    command = [sys.executable, "-m", "coursekit", "--course", str(course), "grade", ASSIGNMENT, "--scheduler", address,
               "--timeout", "240"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=nbgrader_env())
    deadline = time.monotonic() + 300
    while recorded(course) < 1 and process.poll() is None:
        assert time.monotonic() < deadline, "the cluster graded nothing"
        time.sleep(0.2)
    dask_processes.stop()
    out, err = process.communicate(timeout=300)
    assert process.returncode == 2, out + err
    assert err.count("\n") == 1 and "Dask scheduler" in err, err
    dask_processes.start_scheduler()
    dask_processes.start_worker("worker-2")
    dask_processes.start_worker("worker-3")
    dask_processes.wait_for_workers(2)
    again = grade(course, scheduler=dask_processes.address)
    assert again.attention == local[1]
    assert snapshot(course, ASSIGNMENT) == local[0]


def test_a_worker_without_bubblewrap_refuses_to_grade(batch, tmp_path):
    import dask
    from distributed import LocalCluster
    course = copy_of(batch, tmp_path)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nc.Sandbox.bwrap = 'no-such-bwrap'\n")
    with dask.config.set({"distributed.worker.daemon": False}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run = grade(course, scheduler=cluster.scheduler_address, students=["correct"])
    assert "refuses to grade student code unsandboxed" in run.attention["correct"], run.attention
    assert not (course / "autograded" / "correct" / ASSIGNMENT / "backprop.ipynb").exists()
