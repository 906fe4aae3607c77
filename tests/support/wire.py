"""The protobuf wire format written by hand, for tests that need bytes no protobuf library
would write (repeated singular fields, wrong wire types, unknown fields, bad varints)."""

from __future__ import annotations

import struct

VARINT, I64, LEN, I32 = 0, 1, 2, 5  # wire types


def varint(number: int) -> bytes:
    number &= (1 << 64) - 1  # negative int64/int32 go on the wire as 10-byte two's complement
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def ld(field: int, *parts: bytes) -> bytes:
    """A length-delimited field: a string, bytes or an embedded message."""
    payload = b"".join(parts)
    return tag(field, LEN) + varint(len(payload)) + payload


def vi(field: int, number: int) -> bytes:
    return tag(field, VARINT) + varint(number)


def f64(field: int, number: int) -> bytes:
    return tag(field, I64) + struct.pack("<Q", number & (1 << 64) - 1)


def f32(field: int, number: int) -> bytes:
    return tag(field, I32) + struct.pack("<I", number & (1 << 32) - 1)
