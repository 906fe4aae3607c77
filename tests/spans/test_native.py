"""The native converter (C extension) against convert.py, the oracle: on every input it either
declines (convert.py then decides) or produces exactly convert.py's rows, both as Python rows
and as the table DuckDB fills from its Arrow C stream."""

from __future__ import annotations

import math
import random
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pytest

from junjo.features.spans import native
from junjo.features.spans.bulk import append_rows
from junjo.features.spans.convert import ConvertedBatch, convert_request
from junjo.features.spans.schema import SPAN_COLUMNS, SPAN_TABLE
from scripts.bench_indexer import build_payloads
from scripts.bench_ingest import build_template
from tests.support.otlp_builders import (
    make_request,
    make_resource_spans,
    make_span,
    request_payload,
)
from tests.support.resend import recorded_span
from tests.support.wire import f32, f64, ld, tag, vi
from tests.workflows.helpers import FIXTURES, load

pytestmark = pytest.mark.skipif(not native.available(), reason=native.describe())

if native.available():
    from junjo.features.spans import _native

PROVENANCE: dict[str, Any] = {
    "seq": 42,
    "api_key_id": "key-1",
    "received_at_ns": 1_700_000_000_000_000_000,
    "indexed_at_ns": None,
}


def native_spans(payload: bytes, **provenance: Any) -> Any:
    p = {**PROVENANCE, **provenance}
    return _native.convert(
        payload, p["seq"], p["api_key_id"], p["received_at_ns"], p["indexed_at_ns"]
    )


def python_batch(payload: bytes, **provenance: Any) -> ConvertedBatch:
    return convert_request(payload, **{**PROVENANCE, **provenance})


def assert_parity(payload: bytes) -> bool:
    """True when native accepted (and matched), False when it declined."""
    try:
        expected = python_batch(payload)
    except Exception:
        assert native_spans(payload) is None, "convert.py raises: native must decline"
        return False
    spans = native_spans(payload)
    if spans is None:
        return False
    assert spans.to_rows() == expected.spans
    assert [tuple(map(type, row)) for row in spans.to_rows()] == [
        tuple(map(type, row)) for row in expected.spans
    ]
    assert len(spans) == len(expected.spans)
    assert spans.keys() == [(row[0], row[1]) for row in expected.spans]
    if expected.failed is None:
        assert spans.failed == []
    else:
        assert len(spans.failed) == expected.failed.span_count
        batch = native.convert_native(payload, max_value_bytes=1 << 30, **PROVENANCE)
        assert batch is not None
        assert batch.failed == expected.failed
    return True


# -- realistic traffic --------------------------------------------------------------------


def bench_payloads() -> list[bytes]:
    return [*build_payloads(1500), build_template(200, seed=3)[0]]


def fixture_payloads() -> list[bytes]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        spans = [recorded_span(s, bytes.fromhex(s["trace_id"]), 0) for s in load(path.stem)]
        out.append(
            make_request([make_resource_spans(spans, service_name=path.stem)]).SerializeToString()
        )
    return out


@pytest.mark.parametrize("payloads", [bench_payloads, fixture_payloads], ids=["bench", "sdk"])
def test_real_traffic_is_never_declined_and_matches(payloads: Callable[[], list[bytes]]):
    declined = [i for i, payload in enumerate(payloads()) if not assert_parity(payload)]
    assert declined == []


def table_from(fill: Callable[[duckdb.DuckDBPyConnection], None]) -> list[tuple[Any, ...]]:
    conn = duckdb.connect()
    conn.execute("CREATE TABLE spans (" + ", ".join(f"{c.name} {c.type}" for c in SPAN_TABLE) + ")")
    fill(conn)
    return conn.execute("SELECT * FROM spans ORDER BY ALL").fetchall()


def assert_same_tables(payloads: list[bytes]) -> None:
    def by_appender(conn: duckdb.DuckDBPyConnection) -> None:
        for payload in payloads:
            append_rows(conn, "spans", python_batch(payload).spans)

    def by_arrow(conn: duckdb.DuckDBPyConnection) -> None:
        for payload in payloads:
            conn.register("incoming", native_spans(payload))
            conn.execute("INSERT INTO spans SELECT * FROM incoming")
            conn.unregister("incoming")

    expected = table_from(by_appender)
    assert table_from(by_arrow) == expected
    assert expected  # the comparison saw rows


def test_duckdb_reads_the_arrow_stream_as_the_appender_writes_rows():
    assert_same_tables([*bench_payloads()[:2], *fixture_payloads()])


def test_the_arrow_schema_names_and_types_the_columns():
    conn = duckdb.connect()
    conn.register("x", native_spans(fixture_payloads()[0]))
    described = conn.execute("DESCRIBE x").fetchall()
    assert tuple(row[0] for row in described) == SPAN_COLUMNS
    types = {c.name: c.type.split()[0] for c in SPAN_TABLE}
    assert {row[0]: row[1] for row in described} == types
    # one stream per call, over the same buffers
    assert (
        conn.execute("SELECT count(*) FROM x").fetchall()
        == conn.execute("SELECT count(*) FROM x").fetchall()
    )


# -- the wrapper ------------------------------------------------------------------------------


def test_convert_native_makes_a_columnar_batch():
    payload = fixture_payloads()[0]
    batch = native.convert_native(payload, max_value_bytes=1 << 20, **PROVENANCE)
    assert batch is not None and batch.native is not None
    expected = python_batch(payload)
    assert batch.spans == [] and batch.seq == PROVENANCE["seq"]
    assert batch.span_count == len(expected.spans)
    assert batch.keys() == expected.keys()
    first, second = batch.halves()
    assert first.spans + second.spans == expected.spans
    assert native.describe() == "native (C extension)"


def test_requests_that_may_need_truncating_take_the_python_path():
    payload = fixture_payloads()[0]
    assert native.convert_native(payload, max_value_bytes=len(payload) - 1, **PROVENANCE) is None


def test_spans_beyond_2262_are_set_aside_with_convert_pys_error():
    spans = [make_span(start_ns=1 << 63), make_span(), make_span(end_ns=(1 << 64) - 1)]
    payload = request_payload(spans)
    assert assert_parity(payload)
    spans = native_spans(payload)
    assert [position for position, _ in spans.failed] == [(0, 0, 0), (0, 0, 2)]
    assert spans.failed[0][1].startswith("ConversionError: span ")
    assert len(spans) == 1


def test_a_stale_build_with_other_columns_is_not_used(monkeypatch: pytest.MonkeyPatch):
    import importlib
    import sys
    import types

    stale = types.ModuleType("junjo.features.spans._native")
    stale.COLUMNS = SPAN_COLUMNS[:-1]  # type: ignore[attr-defined]
    stale.NativeSpans = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "junjo.features.spans._native", stale)
    monkeypatch.setattr(sys.modules["junjo.features.spans"], "_native", stale)
    try:
        reloaded = importlib.reload(native)
        assert not reloaded.available()
        assert "differ from schema.SPAN_COLUMNS" in reloaded.describe()
        payload = fixture_payloads()[0]
        assert reloaded.convert_native(payload, max_value_bytes=1 << 20, **PROVENANCE) is None
    finally:
        monkeypatch.undo()
        importlib.reload(native)
    assert native.available()


def test_an_empty_request_is_an_empty_table():
    spans = native_spans(b"")
    assert len(spans) == 0 and spans.to_rows() == [] and spans.keys() == []
    conn = duckdb.connect()
    conn.register("x", spans)
    assert conn.execute("SELECT count(*) FROM x").fetchall() == [(0,)]


def test_a_mutable_buffer_is_refused():
    with pytest.raises(TypeError):
        _native.convert(bytearray(fixture_payloads()[0]), 1, None, None, None)


def test_doubles_print_as_python_repr():
    rng = random.Random(11)
    values = [doubles(rng) for _ in range(5000)]
    values += [math.ldexp(rng.randint(1, 2**53), rng.randint(-1100, 960)) for _ in range(2000)]
    assert assert_parity(request_payload([make_span(attributes={"d": values})]))


# -- randomized edge cases ------------------------------------------------------------------


STRINGS = [
    "",
    "a",
    "LLM",
    "chat",
    "invoke_agent",
    "execute_tool",
    "12",
    " 12 ",
    "\t-7\n",
    "+3",
    "1_000",
    "1__0",
    "_1",
    "1_",
    "0x10",
    "12.0",
    "1e3",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "0000000000000000000000001",
    "\x1c5\x1f",
    "\u0661\u0662",  # Arabic-Indic digits: Python's int() accepts them
    "\u20035",  # an em space
    'quote " backslash \\ slash /',
    "\x00\x01\x1f\x7f\b\f\n\r\t",
    "caf\u00e9 \u65e5\u672c \U0001f600",
    "\u2028\u2029",
]

LIFTED_KEYS = [
    "service.name",
    "junjo.span_type",
    "junjo.telemetry.contract_version",
    "junjo.executable_definition_id",
    "junjo.parent_executable_type",
    "junjo.workflow.store.id",
    "junjo.agent.store.id",
    "junjo.workflow.parent_store.id",
    "junjo.id",
    "junjo.correlation.id",
    "openinference.span.kind",
    "gen_ai.operation.name",
    "llm.token_count.total",
    "llm.token_count.prompt",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.completion",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.provider",
    "gen_ai.provider.name",
    "gen_ai.system",
    "llm.model_name",
    "gen_ai.response.model",
    "gen_ai.request.model",
    "error.type",
]


def doubles(rng: random.Random) -> float:
    special = [
        0.0,
        -0.0,
        math.nan,
        math.inf,
        -math.inf,
        5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        0.1,
        1e16,
        1e15,
        123456789012345680.0,
        1e-5,
        0.0001,
        12.0,
        -3.0,
        2.0**63,
        -(2.0**63),
        2.0**62,
        0.5,
        1.5e300,
        9007199254740993.0,
    ]
    pick = rng.random()
    if pick < 0.4:
        return rng.choice(special)
    if pick < 0.6:
        return math.ldexp(1.0, rng.randint(-1074, 1023))  # powers of two: the odd rounding case
    if pick < 0.8:
        return round(rng.uniform(-1e6, 1e6), rng.randint(0, 6))
    return struct.unpack("<d", rng.randbytes(8))[0]


class Wire:
    """Random OTLP requests as raw bytes, with what protobuf accepts but a simple encoder
    never writes: repeated singular fields (merged), oneof switches, unknown fields and
    known fields with the wrong wire type, odd ids, times past 2^63."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def text(self) -> bytes:
        rng = self.rng
        pick = rng.random()
        if pick < 0.6:
            return rng.choice(STRINGS).encode()
        if pick < 0.7:
            return ("x" * rng.choice([100, 5000, 70000])).encode()
        if pick < 0.8:
            return "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(0, 12))).encode()
        if pick < 0.99:
            return str(rng.randint(-(2**64), 2**64)).encode()
        return rng.choice(
            [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"ok\xf4\x90\x80\x80", b"\xe2\x82"]
        )

    def noise(self) -> bytes:
        """An unknown field, or a known one with the wrong wire type."""
        rng = self.rng
        field = rng.choice([1, 2, 3, 5, 7, 9, 15, 16, 17, 99, 1000, 536870911])
        wire = rng.choice([0, 1, 2, 5])
        if wire == 0:
            return vi(field, rng.randint(0, 2**64 - 1))
        if wire == 1:
            return f64(field, rng.randint(0, 2**64 - 1))
        if wire == 5:
            return f32(field, rng.randint(0, 2**32 - 1))
        if self.chance(0.1):
            return ld(field, rng.randbytes(rng.randint(0, 6)))
        return ld(field, ld(12, b""))  # valid UTF-8, and a message with an unknown field

    def fields(self, parts: list[bytes]) -> bytes:
        if self.chance(0.15):
            parts.insert(self.rng.randint(0, len(parts)), self.noise())
        if self.chance(0.2):
            self.rng.shuffle(parts)
        return b"".join(parts)

    def any_value(self, depth: int = 0) -> bytes:
        rng = self.rng
        members = rng.choices([1, 2, 3, 4, 5, 6, 7, 8, 0], k=2 if self.chance(0.15) else 1)
        parts = []
        for member in members:
            if member == 1:
                parts.append(ld(1, self.text()))
            elif member == 2:
                parts.append(vi(2, rng.choice([0, 1, 2, 2**64 - 1])))
            elif member == 3:
                parts.append(
                    vi(3, rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randint(-99, 99)]))
                )
            elif member == 4:
                parts.append(tag(4, 1) + struct.pack("<d", doubles(rng)))
            elif member in (5, 6) and depth < 4:
                items = [self.any_value(depth + 1) if member == 5 else self.key_value(depth + 1)]
                items += [
                    self.any_value(depth + 1) if member == 5 else self.key_value(depth + 1)
                    for _ in range(rng.randint(0, 3))
                ]
                parts.append(ld(member, b"".join(ld(1, item) for item in items)))
                if self.chance(0.2):  # the same member again: merged
                    parts.append(ld(member, ld(1, self.any_value(depth + 1))))
            elif member == 7:
                parts.append(ld(7, rng.randbytes(rng.randint(0, 9))))
            elif member == 8:
                parts.append(vi(8, rng.choice([0, 7, -1, 2**40])))
        return self.fields(parts)

    def key_value(self, depth: int = 0, key: bytes | None = None) -> bytes:
        rng = self.rng
        if key is None:
            key = (
                rng.choice(LIFTED_KEYS).encode()
                if self.chance(0.6)
                else self.text().decode(errors="ignore")[:8].encode()
            )
        parts = [ld(1, key)]
        if not self.chance(0.05):
            parts.append(ld(2, self.any_value(depth)))
        if self.chance(0.1):
            parts.append(ld(2, self.any_value(depth)))  # a second value: merged into the first
        if self.chance(0.05):
            parts.append(vi(3, 5))  # key_strindex
        return self.fields(parts)

    def attributes(self, field: int, n: int | None = None) -> list[bytes]:
        rng = self.rng
        count = rng.randint(0, 8) if n is None else n
        kvs = [self.key_value() for _ in range(count)]
        if kvs and self.chance(0.3):  # repeated keys
            kvs.append(kvs[0])
            kvs.append(self.key_value(key=b"junjo.span_type"))
        if self.chance(0.02):
            kvs += [self.key_value(key=f"k{i % 40}".encode()) for i in range(100)]
        return [ld(field, kv) for kv in kvs]

    def span(self, start: int | None = None, end: int | None = None) -> bytes:
        rng = self.rng
        ids = [8, 16, 16, 16, 0, 3, 17]
        start = rng.choice([0, 1, 1_700_000_000_000_000_000, 2**63 - 1]) if start is None else start
        if end is None:
            end = start + rng.randint(0, 10**9) if start < 2**62 else start
            if self.chance(0.03):
                end = 2**63 + rng.randint(0, 5)
        parts = [
            ld(1, rng.randbytes(rng.choice(ids))),
            ld(2, rng.randbytes(rng.choice(ids))),
            ld(5, self.text()),
            vi(6, rng.choice([0, 1, 2, 5, 99, -1, 2**32 + 3])),
            f64(7, start),
            f64(8, end),
            *self.attributes(9),
        ]
        if self.chance(0.5):
            parts.append(ld(4, rng.randbytes(rng.choice(ids))))
        if self.chance(0.3):
            parts.append(ld(3, self.text()))
        if self.chance(0.3):
            parts.append(f32(16, rng.randint(0, 2**32 - 1)))
        for field in (10, 12, 14):
            if self.chance(0.2):
                parts.append(vi(field, rng.randint(0, 2**64 - 1)))
        for _ in range(rng.choice([0, 0, 1, 2])):
            event = [
                f64(1, rng.randint(0, 2**64 - 1)),
                ld(2, rng.choice([b"exception", self.text()])),
            ]
            event += self.attributes(3, rng.randint(0, 3))
            if self.chance(0.3):
                event.append(vi(4, rng.randint(0, 2**32)))
            parts.append(ld(11, self.fields(event)))
        for _ in range(rng.choice([0, 0, 0, 1])):
            link = [ld(1, rng.randbytes(16)), ld(2, rng.randbytes(8)), ld(3, self.text())]
            link += self.attributes(4, rng.randint(0, 2))
            link += [vi(5, 3), f32(6, rng.randint(0, 2**32 - 1))]
            parts.append(ld(13, self.fields(link)))
        for _ in range(rng.choice([0, 1, 1, 2])):  # status, maybe twice (merged)
            status = []
            if self.chance(0.7):
                status.append(vi(3, rng.choice([0, 1, 2, 3, -2])))
            if self.chance(0.5):
                status.append(ld(2, self.text()))
            parts.append(ld(15, self.fields(status)))
        return self.fields(parts)

    def request(self, groups: list[list[tuple[str, list[bytes]]]] | None = None) -> bytes:
        rng = self.rng
        if groups is None:
            groups = [
                [
                    ("s", [self.span() for _ in range(rng.randint(0, 4))])
                    for _ in range(rng.randint(1, 2))
                ]
                for _ in range(rng.randint(1, 2))
            ]
        out = []
        for scopes in groups:
            resource = self.attributes(1)
            if self.chance(0.2):
                resource.append(vi(2, rng.randint(0, 2**33)))
            if self.chance(0.1):
                resource.append(ld(3, ld(1, self.text()) + ld(3, self.text())))  # an EntityRef
            parts = [ld(1, self.fields(resource))]
            if self.chance(0.15):  # the resource again: merged
                parts.append(ld(1, b"".join(self.attributes(1, 1))))
            for _, spans in scopes:
                scope = [ld(1, self.text()), *self.attributes(3, rng.randint(0, 2))]
                if self.chance(0.3):
                    scope += [ld(2, self.text()), vi(4, rng.randint(0, 9))]
                scope_spans = [ld(1, self.fields(scope)), *(ld(2, s) for s in spans)]
                if self.chance(0.2):
                    scope_spans.append(ld(3, self.text()))
                parts.append(ld(2, self.fields(scope_spans)))
            if self.chance(0.2):
                parts.append(ld(3, self.text()))
            out.append(ld(1, self.fields(parts)))
        return b"".join(out)

    def mutated(self, payload: bytes) -> bytes:
        rng = self.rng
        data = bytearray(payload)
        if not data:
            return bytes(data)
        if self.chance(0.5):
            return bytes(data[: rng.randrange(len(data))])
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)


def random_cases(count: int) -> Iterator[bytes]:
    w = Wire(random.Random(20261202))
    for i in range(count):
        payload = w.request()
        yield w.mutated(payload) if i % 4 == 3 else payload


def test_random_edge_cases_decline_or_match():
    accepted = declined = 0
    for payload in random_cases(2000):
        if assert_parity(payload):
            accepted += 1
        else:
            declined += 1
    # Most valid-looking requests are taken (declines: invalid UTF-8, mutations, and the
    # few values the walker leaves to Python).
    assert accepted > 700, (accepted, declined)


def test_random_edge_cases_through_duckdb():
    payloads = []
    for payload in random_cases(400):
        try:
            python_batch(payload)
        except Exception:
            continue
        if native_spans(payload) is not None and python_batch(payload).spans:
            payloads.append(payload)
    assert len(payloads) > 50
    assert_same_tables(payloads)


def nested_arrays(levels: int) -> bytes:
    value = ld(1, b"leaf")
    for _ in range(levels):
        value = ld(5, ld(1, value))  # an array holding an array holding ...
    span = ld(1, bytes(16)) + ld(2, bytes(8)) + ld(9, ld(1, b"k") + ld(2, value))
    return ld(1, ld(2, ld(2, span)))


def test_deep_nesting_declines_well_before_protobufs_limit():
    # protobuf takes up to 47 levels here (100 messages deep); the walker stops at 64
    # messages, and far past both it never recurses.
    accepted = [levels for levels in range(60) if assert_parity(nested_arrays(levels))]
    assert accepted == list(range(30))
    assert native_spans(nested_arrays(3000)) is None


def test_garbage_declines():
    for payload in [
        b"\xff",
        b"\x0a\x05abc",
        b"\x00",
        b"\x0b",
        b"\x0f" * 3,
        b"\x0a\xff\xff\xff\xff\x0f",
    ]:
        assert native_spans(payload) is None


# -- the GIL and memory -----------------------------------------------------------------------


def test_convert_releases_the_gil_while_it_walks():
    payload = b"".join(build_payloads(1000)) * 40  # concatenated requests: one of 40,000 spans
    ticks: list[float] = []
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())

    thread = threading.Thread(target=count)
    thread.start()
    try:
        for _ in range(5):  # a loaded machine may not schedule the thread at first
            started = time.perf_counter()
            spans = native_spans(payload)
            ended = time.perf_counter()
            assert spans is not None and len(spans) == 40_000
            quarter = (ended - started) / 4
            during = [t for t in ticks if started + quarter < t < ended - quarter]
            if during:
                break
    finally:
        stop.set()
        thread.join()
    assert during, "no other thread ran in the middle of the walk: the GIL was held"


def test_walks_in_several_threads_at_once_agree():
    from concurrent.futures import ThreadPoolExecutor

    payloads = [*bench_payloads()[:2], *fixture_payloads()]
    expected = [native_spans(payload).to_rows() for payload in payloads]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: native_spans(p).to_rows(), payloads * 4))
    assert results == expected * 4


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def test_results_and_their_streams_are_freed():
    payload = build_payloads(500)[0]
    conn = duckdb.connect()

    def cycle() -> None:
        spans = native_spans(payload)
        spans.__arrow_c_stream__()  # a stream never consumed: freed with its capsule
        conn.register("x", spans)
        assert conn.execute("SELECT count(*) FROM x").fetchall() == [(500,)]
        conn.unregister("x")

    for _ in range(30):
        cycle()
    before = rss_bytes()
    for _ in range(300):  # ~1.5 MB of columns each: a leak would show as hundreds of MB
        cycle()
    assert rss_bytes() - before < 40 << 20
