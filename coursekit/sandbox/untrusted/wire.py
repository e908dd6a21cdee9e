"""The referee's wire format: JSON headers and raw array buffers, never pickle.

Standalone on purpose (standard library and NumPy only): the untrusted worker imports it inside the sandbox.
Both sides send frames (``frame`` and ``read_frame``, the one place the framing is defined): an 8-byte
big-endian length, then the body, at most ``MAX_FRAME`` bytes. A body is an 8-byte header length, the JSON
header, then the raw buffers of the arrays the header names. Only numeric arrays, dicts with string keys,
lists, tuples, numbers, strings, booleans and None cross; anything else arrives as a named placeholder.
"""
import json
import struct

import numpy as np

NUMERIC_KINDS = "biufc"
MAX_FRAME = 256 << 20  # the largest message either side accepts: arguments or a function's result


def encode(value):
    """(JSON-able structure, list of raw buffers) for value."""
    buffers = []

    def walk(item):
        if isinstance(item, np.ndarray):
            array = np.ascontiguousarray(np.asarray(item))
            if array.dtype.kind not in NUMERIC_KINDS:
                return {"__unsupported__": f"array of dtype {array.dtype}"}
            buffers.append(array.tobytes())
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
            return Unsupported(str(item.get("__unsupported__", "value")))
        return item

    return walk(structure)


class FrameError(EOFError):
    """The other side ended, or sent a frame that is too large or malformed."""


def pack(header, buffers=()):
    """The body of a frame for a JSON header and its buffers."""
    text = json.dumps({**header, "__sizes__": [len(b) for b in buffers]}).encode()
    return struct.pack(">Q", len(text)) + text + b"".join(buffers)


def unpack(body):
    """(header, buffers) of a frame's body; FrameError when it is malformed."""
    try:
        (size,) = struct.unpack(">Q", body[:8])
        header = json.loads(body[8:8 + size])
        sizes = header.pop("__sizes__")
        if not isinstance(header, dict) or 8 + size + sum(sizes) != len(body) or min(sizes, default=0) < 0:
            raise ValueError("the sizes do not add up")
    except (struct.error, ValueError, TypeError, KeyError, AttributeError) as error:
        raise FrameError(f"malformed frame ({error})") from None
    buffers, offset = [], 8 + size
    for length in sizes:
        buffers.append(body[offset:offset + length])
        offset += length
    return header, buffers


def frame(header, buffers=()):
    """The bytes to send for a JSON header and its buffers: the length, then the body."""
    body = pack(header, buffers)
    if len(body) > MAX_FRAME:
        raise FrameError(f"a message of {len(body) >> 20} MiB is more than the {MAX_FRAME >> 20} MiB limit")
    return struct.pack(">Q", len(body)) + body


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
