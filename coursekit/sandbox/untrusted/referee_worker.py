"""The referee's untrusted side: runs a submission's code cells, then calls its functions on request.

Runs inside the sandbox as ``python referee_worker.py`` with the protocol on stdin/stdout (see wire.py), or
as a fork of the kernels' zygote that runs this file in place (sandbox/untrusted/zygote.py).
Whatever the submission does here (patching NumPy, builtins, printing) stays in this process: the
referee's checks and verdicts run in the grader's own process, on the values this process sends back.

Speed: IPython's input transformer is imported only for a cell that needs it (magics, shell escapes, help,
prompts: see ``needs_transform``); a call's reply carries back only the arguments the grader can mirror and
that the function changed (the others cross as ``wire.UNCHANGED`` or None, see ``call``), and no result when
it is one of the arguments; frames are read into one buffer and written with one ``writev``.
"""
import builtins
import json
import os
import re
import struct
import sys

import numpy as np

import wire


class _NoShell:
    """get_ipython() outside IPython: magics and shell calls do nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


PIPE_SIZE = 1 << 20  # a frame of the training check fits in the pipe: fewer reads, writes and switches
F_SETPIPE_SZ = 1031
# IPython's prompt stripping changes lines that start with these, even in valid Python (inside a string)
PROMPT = re.compile(r"^\s*(>>>|\.\.\.|In \[)", re.M)


def write_frame(fd, header, buffers=()):
    wire.write_frame(fd, header, buffers)


def needs_transform(code):
    """Whether IPython's TransformerManager could change the cell: it does not compile as Python (magics,
    shell escapes, help, indented or prompted code), starts with a blank line, or has a line starting with a
    prompt. Any other cell it returns unchanged, so it is compiled as it is."""
    if code[:1].isspace() or PROMPT.search(code):
        return True
    try:
        compile(code, "<cell>", "exec", dont_inherit=True)
    except Exception:  # noqa: BLE001 - SyntaxError, or anything else: let IPython's transformer have it
        return True
    return False


class Guard:
    """Undo what the submission's code did to the modules this worker itself relies on.

    Student code may patch builtins, NumPy or the wire format's modules (deliberately, to fool a test, or by
    accident); the worker restores them after the cells run and after every call, so its own encoding of the
    results stays honest and a patch cannot break the calls of the student's other, correct functions.

    A submodule imported meanwhile (``numpy.ma``, which matplotlib imports) stays an attribute of its package:
    the import system put it there, and without it NumPy's lazy ``__getattr__`` would import it again forever.
    """

    def __init__(self, modules):
        self.saved = [(module.__name__, module.__dict__, dict(module.__dict__)) for module in modules]

    def restore(self):
        for name, namespace, saved in self.saved:
            if namespace != saved:
                for key in [k for k in namespace if k not in saved and not submodule(name, k, namespace[k])]:
                    del namespace[key]
                namespace.update(saved)


def submodule(package, key, value):
    """Whether value, the attribute key of the module package, is its submodule of that name in sys.modules."""
    return isinstance(key, str) and sys.modules.get(f"{package}.{key}") is value


def run_cells(cells, guard, done=lambda count: None):
    """Execute the cells in one namespace, as the notebook did; a failing cell is skipped, as in nbgrader.

    done(count) is called after each cell with the number of cells run so far, so that the grader knows how
    far the worker got if a cell kills or hangs it.
    """
    transformer = []

    def transform(code):
        if not needs_transform(code):
            return code
        if not transformer:
            try:
                from IPython.core.inputtransformer2 import TransformerManager
                transformer.append(TransformerManager().transform_cell)
            except ImportError:
                transformer.append(lambda text: text)
        return transformer[0](code)

    namespace = {"__name__": "__main__", "get_ipython": _NoShell, "display": print}
    for index, code in enumerate(cells):
        try:
            exec(compile(transform(code), f"<cell {index}>", "exec"), namespace)
        except BaseException:  # noqa: BLE001 - the student's cell may raise anything, even SystemExit
            pass
        guard.restore()
        done(index + 1)
    return namespace


def snapshot(value, kind):
    """What an argument the grader marked mirrorable (kind 1: a numeric array, or a dict of numeric arrays of
    at least one dimension) is before the call, to tell afterwards whether the function changed it."""
    if kind != 1:
        return None
    if isinstance(value, np.ndarray):
        return value.dtype.str, value.shape, value.tobytes()
    if type(value) is dict and all(isinstance(v, np.ndarray) for v in value.values()):
        return {k: (v.dtype.str, v.shape, v.tobytes()) for k, v in value.items()}
    return None


def unchanged(value, before):
    """Whether value is exactly (type, keys, dtypes, shapes, bytes) as snapshot() saw it."""
    if before is None:
        return False
    if isinstance(before, tuple):
        return (isinstance(value, np.ndarray) and value.dtype.str == before[0] and value.shape == before[1]
                and value.tobytes() == before[2])
    return (type(value) is dict and value.keys() == before.keys()
            and all(unchanged(value[k], before[k]) for k in before))


def call(namespace, name, args, guard, kinds=None):
    """Call the submission's function name on args; the reply carries the result and the args afterwards.

    kinds: per argument, what the grader does with the worker's copy after the call (wire.py's encode of the
    grader's value decides): 0 nothing (not an array or a dict: it is not sent back), 1 mirror it, and it may
    be sent as wire.UNCHANGED when the function left it exactly as it came, 2 mirror it (always sent). None:
    every argument is sent back. A result that shares memory with an argument is not sent: the grader returns
    its own (mirrored) argument then.
    """
    kinds = list(kinds) if isinstance(kinds, list) and len(kinds) == len(args) else [2] * len(args)
    before = [snapshot(arg, kind) for arg, kind in zip(args, kinds)]
    try:
        result = namespace[name](*args)
        reply = {"ok": True}
    except BaseException as error:  # noqa: BLE001
        result, reply = None, {"ok": False, "error": f"{type(error).__name__}: {error}"[:1000]}
    guard.restore()
    aliases = [i for i, arg in enumerate(args)
               if isinstance(arg, np.ndarray) and isinstance(result, np.ndarray) and np.shares_memory(arg, result)]
    sent = []
    for arg, kind, saved in zip(args, kinds, before):
        if kind == 0:
            sent.append(None)
        elif kind == 1 and unchanged(arg, saved):
            sent.append(wire.UNCHANGED)
        else:
            sent.append(arg)
    structure, buffers = wire.encode({"result": None if aliases else result, "args": sent})
    return {**reply, "value": structure, "result_aliases_arg": aliases}, buffers


def kernel_path_index(path):
    """Where a kernel has the notebook's folder on sys.path (path): after the standard library's folders,
    before the first site-packages (or dist-packages) folder, as IPython puts it; at the end in a Python that
    has none."""
    for index, entry in enumerate(path):
        if os.path.basename(entry.rstrip("/")) in ("site-packages", "dist-packages"):
            return index
    return len(path)


def main():
    protocol_in = os.dup(0)
    protocol_out = os.dup(1)
    for fd in (protocol_in, protocol_out):
        try:
            import fcntl
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
        except (ImportError, OSError):
            pass
    # What the submission prints goes to stderr, never into the protocol.
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    os.environ.setdefault("MPLBACKEND", "Agg")
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:  # a fork of the kernels' zygote imported it, with the kernels' backend
        matplotlib.rcParams["backend"] = os.environ["MPLBACKEND"]
    # the notebook's folder (backprop_checks), where a kernel has it: after the standard library, whose names a
    # submitted file (random.py) cannot take over there
    sys.path.insert(kernel_path_index(sys.path), os.getcwd())
    reader = wire.Reader(protocol_in)
    header, buffers = reader.read_frame()
    guard = Guard([builtins, np, np.linalg, np.random, json, struct, os, wire])
    namespace = run_cells(header["cells"], guard, lambda count: write_frame(protocol_out, {"defined": count}))
    write_frame(protocol_out, {"ready": True})
    while True:
        try:
            header, buffers = reader.read_frame()
        except EOFError:
            return
        args = wire.decode(header["args"], buffers)
        reply, out_buffers = call(namespace, header["call"], args, guard, header.get("kinds"))
        try:
            write_frame(protocol_out, reply, out_buffers)
        except wire.FrameError as error:  # a result too large to send: the call fails, the worker goes on
            write_frame(protocol_out, {"ok": False, "error": f"ResultTooLarge: {error}", "value": None})


if __name__ == "__main__":
    main()
