"""coursekit/sandbox/untrusted/wire.py: values cross the referee's pipe unchanged, and bad frames are refused."""
import io
import json
import math
import struct

import numpy as np
import pytest

from coursekit.sandbox.untrusted import wire


def round_trip(value):
    """value sent as the worker sends it (encode, frame) and read back as the grader reads it."""
    structure, buffers = wire.encode(value)
    stream = io.BytesIO(wire.frame({"value": structure}, buffers))
    header, received = wire.read_frame(stream.read)
    return wire.decode(header["value"], received)


ARRAYS = {
    "float64 matrix": np.arange(12, dtype=np.float64).reshape(3, 4) / 7,
    "float32 vector": np.linspace(-1, 1, 5, dtype=np.float32),
    "int8 3-D": np.arange(-12, 12, dtype=np.int8).reshape(2, 3, 4),
    "uint16": np.array([0, 1, 65535], dtype=np.uint16),
    "int64": np.array([-(2 ** 63), 2 ** 63 - 1]),
    "complex128": np.array([1 + 2j, -3.5j]),
    "bool": np.array([[True, False], [False, True]]),
    "big-endian float": np.array([1.5, -2.25], dtype=">f8"),
    "0-d": np.array(3.25),
    "empty": np.zeros((0, 3)),
    "transposed (not contiguous)": np.arange(6.0).reshape(2, 3).T,
    "strided slice": np.arange(20.0)[::3],
}


@pytest.mark.parametrize("name", ARRAYS)
def test_array_round_trip_keeps_dtype_shape_and_values(name):
    array = ARRAYS[name]
    got = round_trip(array)
    assert isinstance(got, np.ndarray), f"{name} came back as {type(got).__name__}"
    assert got.dtype == array.dtype, f"{name}: dtype {got.dtype}, sent {array.dtype}"
    assert got.shape == array.shape, f"{name}: shape {got.shape}, sent {array.shape}"
    assert np.array_equal(got, array), f"{name}: values changed"


def test_decoded_arrays_are_fresh_writable_copies():
    got = round_trip(np.ones(3))
    assert got.flags.writeable, "a decoded array is read-only: the grader could not hand it to a function"
    got[0] = 5  # would raise if it were a view of the frame's bytes


def test_nested_dicts_lists_and_tuples_keep_their_types():
    value = {"W1": np.eye(2), "shapes": [(2, 3), (4,)], "name": "relu", "flag": True, "none": None,
             "nested": {"deep": [1, 2.5, "x"]}}
    got = round_trip(value)
    assert set(got) == set(value), f"keys changed: {sorted(got)}"
    assert got["shapes"] == [(2, 3), (4,)] and type(got["shapes"][0]) is tuple, f"tuples lost: {got['shapes']!r}"
    assert got["name"] == "relu" and got["flag"] is True and got["none"] is None
    assert got["nested"] == {"deep": [1, 2.5, "x"]}
    assert np.array_equal(got["W1"], np.eye(2))


@pytest.mark.parametrize("number", [0, -1, 2 ** 64, -(2 ** 80) - 7, 10 ** 40])
def test_integers_of_any_size_round_trip_exactly(number):
    got = round_trip(number)
    assert type(got) is int and got == number, f"{number} came back as {got!r}"


def test_numpy_scalars_arrive_as_python_numbers():
    got = round_trip([np.int16(-3), np.float32(0.5), np.bool_(True)])
    assert got == [-3, 0.5, True] and [type(v) for v in got] == [int, float, bool], f"got {got!r}"


def test_booleans_stay_booleans_not_integers():
    assert round_trip([True, False]) == [True, False]
    assert all(type(v) is bool for v in round_trip([True, False])), "True crossed as the integer 1"


@pytest.mark.parametrize("number", [0.1, -0.0, 1e-310, 1.7976931348623157e308, math.inf, -math.inf])
def test_floats_round_trip_bit_for_bit(number):
    got = round_trip(number)
    assert type(got) is float and struct.pack(">d", got) == struct.pack(">d", number), f"{number!r} -> {got!r}"


def test_nan_round_trips_as_nan():
    got = round_trip(float("nan"))
    assert isinstance(got, float) and math.isnan(got), f"nan came back as {got!r}"


def test_arrays_with_nan_and_inf_round_trip():
    array = np.array([np.nan, np.inf, -np.inf, 1.0])
    assert np.array_equal(round_trip(array), array, equal_nan=True)


@pytest.mark.parametrize("value, says", [(object(), "object"), (np.array(["a", "b"]), "dtype"),
                                         (np.array([1, None], dtype=object), "dtype"), ({1: "int key"}, "dict"),
                                         ({1, 2}, "set")])
def test_unsupported_values_arrive_as_a_named_placeholder(value, says):
    got = round_trip(value)
    assert isinstance(got, wire.Unsupported), f"{type(value).__name__} crossed as {got!r}"
    assert says in repr(got), f"the placeholder {got!r} does not say what it stands for ({says})"


def test_a_header_naming_a_non_numeric_dtype_is_not_decoded():
    got = wire.decode({"__ndarray__": 0, "dtype": "|O", "shape": [1]}, [b"\0" * 8])
    assert isinstance(got, wire.Unsupported), "an object array was built from raw bytes"


def test_frame_and_read_frame_round_trip_header_and_buffers():
    stream = io.BytesIO(wire.frame({"call": "relu", "n": 3}, [b"abc", b"", b"\x00\xff"]))
    header, buffers = wire.read_frame(stream.read)
    assert header == {"call": "relu", "n": 3}, f"header changed: {header}"
    assert buffers == [b"abc", b"", b"\x00\xff"], f"buffers changed: {buffers}"


def test_frames_follow_each_other_on_one_stream():
    stream = io.BytesIO(wire.frame({"i": 1}) + wire.frame({"i": 2}, [b"xy"]))
    assert wire.read_frame(stream.read) == ({"i": 1}, [])
    assert wire.read_frame(stream.read) == ({"i": 2}, [b"xy"])


def test_frame_starts_with_the_body_length_as_8_bytes_big_endian():
    data = wire.frame({"a": 1}, [b"123"])
    assert struct.unpack(">Q", data[:8])[0] == len(data) - 8, "the length prefix is not the body's length"


def test_an_oversized_frame_is_refused_on_send(monkeypatch):
    monkeypatch.setattr(wire, "MAX_FRAME", 1000)
    wire.frame({}, [b"x" * 900])  # within the limit
    with pytest.raises(wire.FrameError, match="limit"):
        wire.frame({}, [b"x" * 1001])


def test_an_oversized_frame_is_refused_on_receive_before_its_body_is_read():
    requested = []

    def read_exactly(n):
        requested.append(n)
        return struct.pack(">Q", wire.MAX_FRAME + 1) if len(requested) == 1 else b"\0" * n

    with pytest.raises(wire.FrameError, match="MiB"):
        wire.read_frame(read_exactly)
    assert requested == [8], f"read {requested[1:]} more bytes of a frame that is too large"


def body(header_bytes, buffers=b""):
    return struct.pack(">Q", len(header_bytes)) + header_bytes + buffers


MALFORMED = {
    "empty body": b"",
    "shorter than its length field": b"\x00\x00\x00",
    "header not JSON": body(b"{not json"),
    "header without sizes": body(json.dumps({"a": 1}).encode()),
    "header a list": body(json.dumps([1, 2]).encode()),
    "sizes beyond the body": body(json.dumps({"__sizes__": [10]}).encode(), b"abc"),
    "bytes after the buffers": body(json.dumps({"__sizes__": [1]}).encode(), b"abc"),
    "negative size": body(json.dumps({"__sizes__": [-3, 6]}).encode(), b"abc"),
    "sizes not numbers": body(json.dumps({"__sizes__": ["3"]}).encode(), b"abc"),
    "header length beyond the body": struct.pack(">Q", 1 << 40) + b"{}",
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_body_raises_frame_error(name):
    with pytest.raises(wire.FrameError, match="malformed"):
        wire.unpack(MALFORMED[name])


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_frame_raises_frame_error_when_read(name):
    data = MALFORMED[name]
    with pytest.raises(wire.FrameError):
        wire.read_frame(io.BytesIO(struct.pack(">Q", len(data)) + data).read)


def test_a_stream_that_ends_before_a_frame_raises():
    with pytest.raises(wire.FrameError, match="ended"):
        wire.read_frame(io.BytesIO(b"").read)


def test_a_stream_that_ends_inside_the_length_raises():
    with pytest.raises(wire.FrameError, match="ended"):
        wire.read_frame(io.BytesIO(b"\x00\x00\x00").read)


def test_a_stream_that_ends_in_the_middle_of_a_frame_raises():
    data = wire.frame({"call": "relu"}, [b"x" * 100])
    with pytest.raises(wire.FrameError, match="middle"):
        wire.read_frame(io.BytesIO(data[:-10]).read)


def test_frame_error_is_an_eof_error():
    # the worker's loop ends on EOFError when the grader closes the pipe
    assert issubclass(wire.FrameError, EOFError)
