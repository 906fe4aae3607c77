"""The write-ahead log on real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from junjo.kernel.wal import SetAside, WalClosed, WriteAheadLog


@pytest.fixture
def wal(tmp_path: Path):
    log = WriteAheadLog(tmp_path / "wal.db")
    yield log
    log.close()


def test_append_read_prune_and_counters(wal: WriteAheadLog):
    seqs = [wal.append(b"x" * (10 * n), n, "key") for n in range(1, 4)]
    assert seqs == sorted(seqs)
    assert wal.backlog() == (3, 60)
    batches = wal.read_after(0)
    assert [(b.seq, b.span_count, b.api_key_id, b.payload) for b in batches] == [
        (seqs[0], 1, "key", b"x" * 10),
        (seqs[1], 2, "key", b"x" * 20),
        (seqs[2], 3, "key", b"x" * 30),
    ]
    assert [b.seq for b in wal.read_after(seqs[0])] == seqs[1:]
    assert wal.prune_through(seqs[1]) == 2
    assert wal.backlog() == (1, 30)
    totals = wal.totals()
    assert (totals.accepted_batches, totals.accepted_spans) == (3, 6)
    assert wal.last_seq() == seqs[2]
    assert wal.prune_through(seqs[2]) == 1
    assert wal.last_seq() == seqs[2]  # the position survives pruning everything
    assert wal.prune_through(seqs[2]) == 0


def test_counters_and_data_survive_reopen(tmp_path: Path):
    first = WriteAheadLog(tmp_path / "wal.db")
    seqs = [first.append(b"abc", 5) for _ in range(4)]
    first.prune_through(seqs[0])
    first.close()
    second = WriteAheadLog(tmp_path / "wal.db")
    try:
        totals = second.totals()
        assert (totals.accepted_batches, totals.accepted_spans) == (4, 20)
        assert second.backlog() == (3, 9)
        assert second.last_seq() == seqs[-1]
        assert [b.seq for b in second.read_after(0)] == seqs[1:]
        assert second.append(b"d", 1) > seqs[-1]  # sequence numbers never go back
    finally:
        second.close()


def test_concurrent_appends_and_prunes_are_group_committed(wal: WriteAheadLog):
    results: list[int] = []
    lock = threading.Lock()

    def writer() -> None:
        for _ in range(50):
            seq = wal.append(b"p" * 100, 1)
            with lock:
                results.append(seq)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    pruned = 0
    while any(t.is_alive() for t in threads):
        pruned += wal.prune_through(wal.last_seq() // 2)
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(1, 401))
    assert pruned + wal.backlog()[0] == 400
    assert wal.backlog()[1] == 100 * wal.backlog()[0]


def test_closed_log_refuses_and_close_is_idempotent(tmp_path: Path):
    log = WriteAheadLog(tmp_path / "wal.db")
    log.append(b"a", 1)
    log.close()
    log.close()
    with pytest.raises(WalClosed):
        log.append(b"b", 1)
    with pytest.raises(WalClosed):
        log.prune_through(1)


def test_appends_racing_close_either_commit_or_are_refused(tmp_path: Path):
    log = WriteAheadLog(tmp_path / "wal.db")
    outcomes: list[str] = []

    def writer() -> None:
        for _ in range(200):
            try:
                log.append(b"r", 1)
                outcomes.append("ok")
            except WalClosed:
                outcomes.append("closed")
                return

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    log.close()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), "an append was left waiting after close"
    reopened = WriteAheadLog(tmp_path / "wal.db")
    try:
        assert reopened.totals().accepted_batches == outcomes.count("ok")
    finally:
        reopened.close()


def test_a_failed_commit_reaches_every_waiter(wal: WriteAheadLog, tmp_path: Path):
    blocker = sqlite3.connect(tmp_path / "wal.db", timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # hold the write lock: the writer's BEGIN fails
    wal._writer.execute("PRAGMA busy_timeout = 50")
    try:
        with pytest.raises(sqlite3.OperationalError):
            wal.append(b"x", 1)
    finally:
        blocker.rollback()
        blocker.close()
    assert wal.append(b"y", 1) >= 1  # the writer thread survived
    assert wal.totals().accepted_batches == 1


def set_aside(seq: int, payload: bytes, spans: int = 2) -> SetAside:
    return SetAside(seq, 42, "key", spans, "store: boom", payload)


def test_quarantine_keeps_an_entry_once_and_replays_it_as_a_new_batch(tmp_path: Path):
    wal = WriteAheadLog(tmp_path / "wal.db")
    first = wal.append(b"batch", 2)
    wal.quarantine([set_aside(first, b"spans"), set_aside(first, b"other", 1)])
    wal.quarantine([set_aside(first, b"spans")])  # again, after a crash: kept once
    entries, count, spans = wal.quarantined(10)
    assert (count, spans) == (2, 3)
    assert [(e["seq"], e["span_count"], e["error"]) for e in entries] == [
        (first, 1, "store: boom"),
        (first, 2, "store: boom"),
    ]  # newest first, never the payload
    assert "payload" not in entries[0]
    wal.prune_through(first)
    wal.close()

    wal = WriteAheadLog(tmp_path / "wal.db")  # kept across restarts and prunes
    try:
        oldest = entries[-1]["id"]
        assert wal.quarantined_ids([oldest, 999]) == {oldest}
        assert wal.replay([oldest]) == [(oldest, 2)]
        (batch,) = wal.read_after(first)
        assert (batch.seq > first, batch.payload, batch.span_count) == (True, b"spans", 2)
        assert wal.backlog() == (1, len(b"spans"))
        assert wal.totals().accepted_batches == 1  # a replay is not a new export
        assert wal.quarantined(10)[1:] == (1, 1)
        assert wal.replay(None) == [(entries[0]["id"], 1)]
        assert wal.quarantined(10) == ([], 0, 0) and wal.backlog() == (2, 10)
    finally:
        wal.close()
