"""Cost of the referee's proxy round trips: the grader calling a submission's function in its sandboxed worker.

Starts the referee's worker (``coursekit/sandbox/functions.py``'s StudentProcess, in the Sandbox with this
course's limits) with the reference answers of relu, softmax, backward and sgd_update, then calls them
through proxies as the hidden training check does (400 epochs of full-batch training on the lesson's 420
points: 1,600 round trips), and a tiny call many times. It prints the CPU microseconds per call on both
sides: the grader's (``time.process_time``) and the worker's (psutil's CPU times of its process tree,
sampled before it is stopped).

    .venv/bin/python benchmarks/proxy_calls.py [--epochs 400] [--repeat 3]
"""
import argparse
import contextlib
import statistics
import sys
import tempfile
import time

import numpy as np
import psutil

from coursekit.sandbox import Sandbox
from coursekit.sandbox.functions import StudentProcess, proxy

CELLS = ['''import numpy as np''', '''
def relu(z):
    return np.maximum(0, z)
''', '''
def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
''', '''
def backward(X, Y, params, cache):
    z1, a1, probs = cache["z1"], cache["a1"], cache["probs"]
    grad_logits = (probs - Y) / len(X)
    grad_W2 = a1.T @ grad_logits
    grad_B2 = grad_logits.sum(axis=0)
    grad_a1 = grad_logits @ params["W2"].T
    grad_z1 = grad_a1 * (z1 > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0), "W2": grad_W2, "B2": grad_B2}
''', '''
def sgd_update(params, grads, learning_rate):
    for name in params:
        params[name] -= learning_rate * grads[name]
    return params
''', '''
def nothing(x):
    return x
''']


def tree_cpu(pid):
    """CPU seconds of the process pid and its descendants so far."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = process.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def training(f, epochs):
    """The hidden training check's loop, with the functions f (name -> callable); the final loss."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(420, 2))
    Y = np.eye(2)[rng.integers(2, size=420)]
    params = {"W1": rng.normal(scale=0.3, size=(2, 16)), "B1": np.zeros(16),
              "W2": rng.normal(scale=0.3, size=(16, 2)), "B2": np.zeros(2)}
    loss = None
    for _ in range(epochs):
        z1 = X @ params["W1"] + params["B1"]
        a1 = f["relu"](z1)
        logits = a1 @ params["W2"] + params["B2"]
        cache = {"z1": z1, "a1": a1, "logits": logits, "probs": f["softmax"](logits)}
        loss = -np.mean(np.sum(Y * np.log(np.asarray(cache["probs"], dtype=np.float64) + 1e-8), axis=1))
        params = f["sgd_update"](params, f["backward"](X, Y, params, cache), 0.5)
    return loss


def measure(epochs, tiny):
    """(grader us/call, worker us/call) for the training loop and for tiny calls, and the final loss."""
    with tempfile.TemporaryDirectory() as cwd:
        student = StudentProcess(CELLS, cwd, Sandbox(), 600)
        try:
            f = {name: proxy(student, name) for name in ("relu", "softmax", "backward", "sgd_update", "nothing")}
            results = {}
            for label, work, calls in [("training", lambda: training(f, epochs), 4 * epochs),
                                       ("tiny call", lambda: [f["nothing"](float(i)) for i in range(tiny)], tiny)]:
                grader, worker = time.process_time(), tree_cpu(student.process.pid)
                value = work()
                results[label] = (1e6 * (time.process_time() - grader) / calls,
                                  1e6 * (tree_cpu(student.process.pid) - worker) / calls)
                if label == "training":
                    results["loss"] = value
            return results
        finally:
            student.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--tiny", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    local = {"relu": lambda z: np.maximum(0, z)}
    namespace = {}
    for cell in CELLS:
        exec(cell, namespace)
    started = time.process_time()
    local_loss = training({name: namespace[name] for name in ("relu", "softmax", "backward", "sgd_update")},
                          args.epochs)
    local_us = 1e6 * (time.process_time() - started) / (4 * args.epochs)
    runs = [measure(args.epochs, args.tiny) for _ in range(args.repeat)]
    assert all(run["loss"] == local_loss for run in runs), "the proxies changed the training's result"
    del local
    print(f"CPU microseconds per call (median of {args.repeat}; grader + worker):")
    print(f"  the same functions called directly, no referee: {local_us:7.0f}")
    for label in ("training", "tiny call"):
        grader = statistics.median(run[label][0] for run in runs)
        worker = statistics.median(run[label][1] for run in runs)
        print(f"  {label + ' through the proxy:':<48}{grader + worker:7.0f}  ({grader:.0f} + {worker:.0f})")
    print(f"  training loss {local_loss:.6f}, identical through the proxies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
