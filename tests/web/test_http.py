"""The web feature over HTTP: the shell for browser paths, its files with the right types
and caching, and the API's own JSON 404 and 405 untouched."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient


@pytest.mark.parametrize("path", ["/", "/traces/svc/abc", "/traces/svc/abc/span1", "/keys"])
def test_browser_paths_answer_the_app_shell(client: TestClient, path: str):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="/static/app.js">' in response.text


def test_the_shell_has_no_inline_script_or_style(client: TestClient):
    shell = client.get("/").text
    assert "<style" not in shell and " style=" not in shell
    assert shell.count("<script") == shell.count('<script type="module" src=')


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/static/app.js", "text/javascript"), ("/static/app.css", "text/css")],
)
def test_static_files_have_their_type_and_revalidate(
    client: TestClient, path: str, media_type: str
):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    again = client.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope",
        "/api/nope",
        "/v1/nope",
        "/health/nope",
        "/users/1/nope",
        "/static/nope.js",
        "/static/%2e%2e/%2e%2e/__init__.py",
    ],
)
def test_api_and_missing_file_paths_keep_their_json_404(client: TestClient, path: str):
    response = client.get(path)
    assert response.status_code == 404, path
    assert response.json() == {"detail": "Not Found"}


def test_a_get_on_a_path_routed_for_other_methods_is_a_405(client: TestClient):
    response = client.get("/v1/traces")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"detail": "Method Not Allowed"}


def test_vendored_libraries_are_recorded_served_and_cached_for_good(client: TestClient):
    """Every file VENDORED.json lists is served, never changes under its versioned path,
    and each library's licence ships with it."""
    records = client.get("/static/vendor/VENDORED.json").json()
    assert {record["name"] for record in records} >= {"preact", "htm"}
    for record in records:
        assert record["license"] and record["sha512"].startswith("sha512-")
        folder = f"{record['name'].rpartition('/')[2]}-{record['version']}"  # @scope/ dropped
        assert f"{folder}/LICENSE" in record["files"]
        for file in record["files"]:
            response = client.get(f"/static/vendor/{file}")
            assert response.status_code == 200, file
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
            if file.endswith(".mjs"):
                assert response.headers["content-type"] == "text/javascript; charset=utf-8"
