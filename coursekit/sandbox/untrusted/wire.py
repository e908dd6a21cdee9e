"""The referee's wire format: JSON headers and raw array buffers, never pickle.

Standalone on purpose (standard library and NumPy only): the untrusted worker imports it inside the sandbox.
Both sides send frames (``frame_parts``/``frame`` and ``read_frame``, the one place the framing is defined): an
8-byte big-endian length, then the body, at most ``MAX_FRAME`` bytes. A body is an 8-byte header length, the
JSON header, then the raw buffers of the arrays the header names. Only numeric arrays, dicts with string keys,
lists, tuples, numbers, strings, booleans and None cross; anything else arrives as a named placeholder.

Speed (the referee makes thousands of calls per submission): ``encode`` hands out the arrays' own memory as
buffers (no copy), ``frame_parts`` gives the pieces of a frame for one ``os.writev`` (``write_frame``), and
a ``Reader`` reads frames from a file descriptor into one buffer it reuses, usually a whole frame per read,
handing out views of it (no copy). ``UNCHANGED`` is what a worker sends back for an argument its function
left exactly as it came (see referee_worker.py).
"""
import json
import os
import select
import struct

import numpy as np

NUMERIC_KINDS = "biufc"
MAX_FRAME = 256 << 20  # the largest message either side accepts: arguments or a function's result


class Unchanged:
    """Stands for an argument the function did not change: nothing needs to be mirrored back."""

    def __repr__(self):
        return "<unchanged>"


UNCHANGED = Unchanged()


def encode(value):
    """(JSON-able structure, list of raw buffers) for value."""
    buffers = []

    def walk(item):
        kind = type(item)  # the common exact types first; the order of the checks below decides the rest
        if kind is dict and all(type(k) is str for k in item):
            return {"__dict__": {k: walk(v) for k, v in item.items()}}
        if kind is list or kind is tuple:
            return {"__" + kind.__name__ + "__": [walk(v) for v in item]}
        if item is UNCHANGED:
            return {"__unchanged__": True}
        if isinstance(item, np.ndarray):
            array = np.asarray(item)
            if not array.flags.c_contiguous:  # ascontiguousarray alone would make a 0-d array 1-d
                array = np.ascontiguousarray(array)
            if array.dtype.kind not in NUMERIC_KINDS:
                return {"__unsupported__": f"array of dtype {array.dtype}"}
            buffers.append(array.reshape(-1).view(np.uint8))  # the array's own bytes, not a copy
            return {"__ndarray__": len(buffers) - 1, "dtype": array.dtype.str, "shape": list(array.shape)}
        if isinstance(item, (bool, np.bool_)):
            return bool(item)
        if isinstance(item, (int, np.integer)):
            return {"__int__": str(int(item))}
        if isinstance(item, (float, np.floating)):
            return {"__float__": repr(float(item))}
        if item is None or type(item) is str:
            return item
        if type(item) is dict and all(type(k) is str for k in item):
            return {"__dict__": {k: walk(v) for k, v in item.items()}}
        if type(item) in (list, tuple):
            return {"__" + type(item).__name__ + "__": [walk(v) for v in item]}
        return {"__unsupported__": type(item).__name__}

    return walk(value), buffers


class Unsupported:
    """Stands for a value that could not cross the wire (a custom object, an object array)."""

    def __init__(self, description):
        self.description = description

    def __repr__(self):
        return f"<unsupported value: {self.description}>"


def decode(structure, buffers):
    """The value encode() described, with fresh arrays."""
    def walk(item):
        if isinstance(item, dict):
            if "__ndarray__" in item:
                dtype = np.dtype(item["dtype"])
                if dtype.kind not in NUMERIC_KINDS:
                    return Unsupported(f"array of dtype {dtype}")
                data = buffers[item["__ndarray__"]]
                shape = tuple(int(n) for n in item["shape"])
                return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
            if "__int__" in item:
                return int(item["__int__"])
            if "__float__" in item:
                return float(item["__float__"])
            if "__dict__" in item:
                return {k: walk(v) for k, v in item["__dict__"].items()}
            if "__list__" in item:
                return [walk(v) for v in item["__list__"]]
            if "__tuple__" in item:
                return tuple(walk(v) for v in item["__tuple__"])
            if "__unchanged__" in item:
                return UNCHANGED
            return Unsupported(str(item.get("__unsupported__", "value")))
        return item

    return walk(structure)


class FrameError(EOFError):
    """The other side ended, or sent a frame that is too large or malformed."""


def pack(header, buffers=()):
    """The body of a frame for a JSON header and its buffers."""
    return b"".join(frame_parts(header, buffers, prefix=False))


def unpack(body):
    """(header, buffers) of a frame's body; FrameError when it is malformed. The buffers are memoryviews of
    body (no copy)."""
    try:
        (size,) = struct.unpack(">Q", body[:8])
        header = json.loads(bytes(body[8:8 + size]))
        sizes = header.pop("__sizes__")
        if not isinstance(header, dict) or 8 + size + sum(sizes) != len(body) or min(sizes, default=0) < 0:
            raise ValueError("the sizes do not add up")
    except (struct.error, ValueError, TypeError, KeyError, AttributeError) as error:
        raise FrameError(f"malformed frame ({error})") from None
    view = memoryview(body)
    buffers, offset = [], 8 + size
    for length in sizes:
        buffers.append(view[offset:offset + length])
        offset += length
    return header, buffers


def frame_parts(header, buffers=(), prefix=True):
    """The pieces of the frame for a JSON header and its buffers, to be written one after the other: the
    length (without prefix: only the body) and the header in one bytes object, then the buffers as given."""
    sizes = [memoryview(b).nbytes for b in buffers]
    text = json.dumps({**header, "__sizes__": sizes}).encode()
    body_size = 8 + len(text) + sum(sizes)
    if body_size > MAX_FRAME:
        raise FrameError(f"a message of {body_size >> 20} MiB is more than the {MAX_FRAME >> 20} MiB limit")
    head = struct.pack(">QQ", body_size, len(text)) if prefix else struct.pack(">Q", len(text))
    return [head + text, *(b for b, size in zip(buffers, sizes) if size)]


def frame(header, buffers=()):
    """The bytes to send for a JSON header and its buffers: the length, then the body."""
    return b"".join(frame_parts(header, buffers))


def read_frame(read_exactly):
    """(header, buffers) of the next frame; read_exactly(n) returns n bytes or raises (EOFError at the end)."""
    head = read_exactly(8)
    if len(head) < 8:
        raise FrameError("the other side ended")
    (size,) = struct.unpack(">Q", head)
    if size > MAX_FRAME:
        raise FrameError(f"a message of more than {MAX_FRAME >> 20} MiB")
    body = read_exactly(size)
    if len(body) < size:
        raise FrameError("the other side ended in the middle of a message")
    return unpack(body)


def write_frame(fd, header, buffers=(), wait=None):
    """Send a frame through the file descriptor fd with as few system calls as it takes (os.writev).

    wait(): called when fd is non-blocking and full; it returns when fd can take more, or raises.
    """
    write_parts(fd, frame_parts(header, buffers), wait)


def write_parts(fd, parts, wait=None):
    """Send the pieces of a frame (frame_parts) through fd, as write_frame does."""
    parts = [memoryview(p).cast("B") for p in parts]
    while parts:
        try:
            written = os.writev(fd, parts[:64])
        except BlockingIOError:
            if wait is None:
                select.select([], [fd], [])
            else:
                wait()
            continue
        while written and parts:
            if written >= parts[0].nbytes:
                written -= parts.pop(0).nbytes
            else:
                parts[0] = parts[0][written:]
                written = 0


class Reader:
    """Reads frames from a file descriptor into one buffer it reuses: a frame's length and body usually come
    in one read (readv) and are not copied. The buffers of a frame it returns are views of that buffer, valid
    until the next frame is read (decode copies them into arrays).

    wait(): called when fd is non-blocking and has nothing to read yet; it returns when it has, or raises.
    """

    def __init__(self, fd, wait=None, size=1 << 20):
        self.fd, self.wait = fd, wait
        self.buffer = bytearray(size)
        self.start = self.end = 0

    def buffered(self):
        """How many bytes were read and not yet handed out."""
        return self.end - self.start

    def _fill(self, need):
        """Read until need bytes are buffered; False when the other side ended first."""
        if self.start + need > len(self.buffer):
            # A new buffer (views of the old one may still be in use), with the unread bytes at its start
            fresh = bytearray(max(len(self.buffer), need))
            fresh[:self.buffered()] = self.buffer[self.start:self.end]
            self.buffer, self.start, self.end = fresh, 0, self.buffered()
        view = memoryview(self.buffer)
        while self.end - self.start < need:
            try:
                count = os.readv(self.fd, [view[self.end:]])
            except BlockingIOError:
                if self.wait is None:
                    select.select([self.fd], [], [])
                else:
                    self.wait()
                continue
            if not count:
                return False
            self.end += count
        return True

    def read_exactly(self, size):
        """The next size bytes (a memoryview), or fewer (bytes) when the other side ended."""
        if not self._fill(size):
            rest = bytes(self.buffer[self.start:self.end])
            self.start = self.end = 0
            return rest
        data = memoryview(self.buffer)[self.start:self.start + size]
        self.start += size
        if self.start == self.end:
            self.start = self.end = 0  # the next frame starts at the front again
        return data

    def read_frame(self):
        """(header, buffers) of the next frame."""
        return read_frame(self.read_exactly)
