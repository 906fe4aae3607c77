"""Where `junjo traces` gets its answers (``open_source``): the data dir's files while no
server runs, the server running on it, or a remote one; the same answers from each, and one
error type for each way of failing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from junjo.config import Settings
from junjo.features.traces.client import TraceSource, open_source
from junjo.kernel.errors import InvalidInput, NotFound, Unreachable
from junjo.kernel.runtime_file import RuntimeInfo, ServerLock, write_runtime_file
from tests.conftest import LOCAL_TOKEN
from tests.support.keys import Keys, make_keys
from tests.support.server import free_port
from tests.support.uvicorn_thread import UvicornThread
from tests.traces.conftest import Stored


def answers(source: TraceSource, stored: Stored) -> dict:
    """What the CLI asks a source for, about the stored traces."""
    workflow_id = stored.ids["workflow"]
    owner = next(
        s for s in source.trace(workflow_id)["spans"] if s["junjo_span_type"] == "workflow"
    )
    return {
        "search": source.search({"limit": "50"}),
        "errors": source.search({"errors": "true"}),
        "trace": source.trace(stored.ids["checkout"]),
        "services": source.services(),
        "workflow": source.workflow(workflow_id, owner["span_id"]),
    }


def test_without_a_server_the_files_answer_in_the_rest_apis_shapes(files, stored: Stored):
    assert files.description == f"data dir {stored.data_dir}"
    found = answers(files, stored)
    assert [t["trace_id"] for t in found["search"]["traces"]] == stored.newest_first()
    assert [t["trace_id"] for t in found["errors"]["traces"]] == [stored.ids["checkout"]]
    trace = found["trace"]
    assert trace["summary"]["root_name"] == "checkout"
    card = trace["spans"][1]  # Junjo AI Studio's span JSON
    assert (card["name"], card["kind"], card["status_code"]) == ("charge-card", "INTERNAL", "2")
    assert card["attributes_json"] == {"customer.tier": "gold"}
    assert [s["service_name"] for s in found["services"]] == ["assistant", "flows", "shop", "tie"]
    assert found["workflow"]["integrity"]["verdict"] == "complete"


def test_pages_of_the_files_follow_the_cursor(files, stored: Stored):
    seen, params = [], {"limit": "3"}
    for _ in range(3):  # 7 traces
        page = files.search(params)
        seen += [t["trace_id"] for t in page["traces"]]
        params = {"limit": "3", "cursor": page["next_cursor"]}
    assert seen == stored.newest_first() and page["next_cursor"] is None


def test_bad_questions_and_unknown_traces(files):
    with pytest.raises(NotFound):
        files.trace("0" * 32)
    with pytest.raises(NotFound):
        files.workflow("0" * 32, "0" * 16)
    for bad in (
        lambda: files.trace("zz"),
        lambda: files.workflow("0" * 32, "zz"),
        lambda: files.search({"limit": "0"}),
        lambda: files.search({"since": "soon"}),
        lambda: files.search({"cursor": "forged"}),
    ):
        with pytest.raises(InvalidInput):
            bad()


def test_a_data_dir_with_nothing_ingested_is_empty(tmp_path: Path):
    source = open_source(Settings(data_dir=tmp_path / "new"), None, None)
    try:
        assert source.search({}) == {
            "traces": [],
            "next_cursor": None,
            "prev_cursor": None,
            "total": None,
            "as_of": "0",
        }
        assert source.services() == []
        with pytest.raises(NotFound):
            source.trace("0" * 32)
    finally:
        source.close()
    assert not (tmp_path / "new" / "spans.duckdb").exists()  # reading wrote nothing


@pytest.fixture
def served(app, settings: Settings, stored: Stored) -> Iterator[tuple[str, Keys]]:
    """The whole app on a copy of the stored data dir, over real HTTP; its URL and keys."""
    shutil.copytree(stored.data_dir, settings.data_dir, dirs_exist_ok=True)
    keys = make_keys(settings.data_dir)
    server = UvicornThread(app, lifespan="on")
    yield server.url, keys
    server.stop()


def test_the_server_running_on_the_data_dir_answers_the_same(
    served, settings: Settings, stored: Stored, files
):
    url, _ = served
    lock = ServerLock(settings.data_dir)  # as `junjo serve` holds it
    write_runtime_file(settings.runtime_file_path, RuntimeInfo(os.getpid(), url, 0, LOCAL_TOKEN))
    try:
        source = open_source(settings, None, None)
        try:
            assert source.description == f"local server {url}"
            assert answers(source, stored) == answers(files, stored)
        finally:
            source.close()
    finally:
        lock.release()
    stopped = open_source(settings, None, None)
    assert stopped.description == f"data dir {settings.data_dir}"
    stopped.close()


def test_a_remote_server_with_a_read_key_answers_the_same(served, stored: Stored, files, tmp_path):
    url, keys = served
    elsewhere = Settings(data_dir=tmp_path / "elsewhere")  # the remote's files are not here
    source = open_source(elsewhere, url, keys.read)
    try:
        assert source.description == f"server {url}"
        assert answers(source, stored) == answers(files, stored)
        with pytest.raises(NotFound, match="Trace not found"):
            source.trace("0" * 32)
        with pytest.raises(InvalidInput, match="trace_id"):
            source.trace("zz")
    finally:
        source.close()


def test_a_remote_server_refusing_the_key_is_unreachable(served, tmp_path):
    url, keys = served
    for key in (keys.ingest, "not-a-key"):
        source = open_source(Settings(data_dir=tmp_path), url, key)
        with pytest.raises(Unreachable, match=f"server {url} refused the credentials"):
            source.services()
        source.close()


def test_remote_options_that_cannot_work(tmp_path):
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(InvalidInput, match="--server needs --api-key"):
        open_source(settings, "http://127.0.0.1:1", None)
    with pytest.raises(InvalidInput, match="is not a URL"):
        open_source(settings, "http://host:port", "key")
    too_long_a_name = open_source(settings, f"http://{'a' * 70}.example", "key")
    with pytest.raises(InvalidInput, match="not a usable URL"):  # no idna traceback
        too_long_a_name.search({})
    nobody = open_source(settings, f"http://127.0.0.1:{free_port()}", "key")
    with pytest.raises(Unreachable, match="cannot reach server"):
        nobody.search({})


async def _broken(request: Request) -> PlainTextResponse:
    return PlainTextResponse("upstream proxy error", status_code=502)


def test_a_server_that_answers_an_error_is_unreachable(tmp_path):
    proxy = UvicornThread(Starlette(routes=[Route("/api/v1/services", _broken)]))
    try:
        source = open_source(Settings(data_dir=tmp_path), proxy.url, "key")
        with pytest.raises(Unreachable, match="answered 502: upstream proxy error"):
            source.services()
        source.close()
    finally:
        proxy.stop()
