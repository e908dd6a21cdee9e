"""The referee's untrusted side: runs a submission's code cells, then calls its functions on request.

Runs inside the sandbox as ``python referee_worker.py`` with the protocol on stdin/stdout (see wire.py).
Whatever the submission does here (patching NumPy, builtins, printing) stays in this process: the
referee's checks and verdicts run in the grader's own process, on the values this process sends back.
"""
import builtins
import json
import os
import struct
import sys

import numpy as np

import wire


class _NoShell:
    """get_ipython() outside IPython: magics and shell calls do nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def write_frame(stream, header, buffers=()):
    stream.write(wire.frame(header, buffers))
    stream.flush()


class Guard:
    """Undo what the submission's code did to the modules this worker itself relies on.

    Student code may patch builtins, NumPy or the wire format's modules (deliberately, to fool a test, or by
    accident); the worker restores them after the cells run and after every call, so its own encoding of the
    results stays honest and a patch cannot break the calls of the student's other, correct functions.
    """

    def __init__(self, modules):
        self.saved = [(module.__dict__, dict(module.__dict__)) for module in modules]

    def restore(self):
        for namespace, saved in self.saved:
            if namespace != saved:
                for key in [k for k in namespace if k not in saved]:
                    del namespace[key]
                namespace.update(saved)


def run_cells(cells, guard):
    """Execute the cells in one namespace, as the notebook did; a failing cell is skipped, as in nbgrader."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        transform = TransformerManager().transform_cell
    except ImportError:
        def transform(code):
            return code
    namespace = {"__name__": "__main__", "get_ipython": _NoShell, "display": print}
    for index, code in enumerate(cells):
        try:
            exec(compile(transform(code), f"<cell {index}>", "exec"), namespace)
        except BaseException:  # noqa: BLE001 - the student's cell may raise anything, even SystemExit
            pass
        guard.restore()
    return namespace


def call(namespace, name, args, guard):
    """Call the submission's function name on args; the reply carries the result and the args afterwards."""
    try:
        result = namespace[name](*args)
        reply = {"ok": True}
    except BaseException as error:  # noqa: BLE001
        result, reply = None, {"ok": False, "error": f"{type(error).__name__}: {error}"[:1000]}
    guard.restore()
    aliases = [i for i, arg in enumerate(args)
               if isinstance(arg, np.ndarray) and isinstance(result, np.ndarray) and np.shares_memory(arg, result)]
    structure, buffers = wire.encode({"result": result, "args": list(args)})
    return {**reply, "value": structure, "result_aliases_arg": aliases}, buffers


def main():
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb")
    # What the submission prints goes to stderr, never into the protocol.
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.path.insert(0, os.getcwd())  # the notebook's folder, as in a kernel (backprop_checks)
    header, buffers = wire.read_frame(protocol_in.read)
    guard = Guard([builtins, np, np.linalg, np.random, json, struct, os, wire])
    namespace = run_cells(header["cells"], guard)
    write_frame(protocol_out, {"ready": True})
    while True:
        try:
            header, buffers = wire.read_frame(protocol_in.read)
        except EOFError:
            return
        args = wire.decode(header["args"], buffers)
        reply, out_buffers = call(namespace, header["call"], args, guard)
        try:
            write_frame(protocol_out, reply, out_buffers)
        except wire.FrameError as error:  # a result too large to send: the call fails, the worker goes on
            write_frame(protocol_out, {"ok": False, "error": f"ResultTooLarge: {error}", "value": None})


if __name__ == "__main__":
    main()
