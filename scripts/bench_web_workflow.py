#!/usr/bin/env python3
"""Measure the workflow debugger on a big run in headless Chromium (the lead folds this into
scripts/bench_web.py): a real ``junjo serve``, one run of 1,000 nodes and 10,000 state changes
of ~10 KB states (tests/support/big_workflow.py), then

- the server building the run's view (first GET .../run, and again from its cache);
- the page opening it (graph and timeline drawn);
- one step with the arrow key (its Before/After/Changes from the server); a jump to the end.

    .venv/bin/python scripts/bench_web_workflow.py [--nodes 1000] [--changes 10000] [--kb 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.big_workflow import jump_ms, open_run_ms, run_url, send_big_workflow, step_ms
from tests.support.web import start_web_server
from tests.web.conftest import CHROMIUM, CHROMIUM_FLAGS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--kb", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        web = start_web_server(Path(folder) / "data")
        try:
            trace_id, span_id = send_big_workflow(
                web.url, web.keys.ingest, nodes=args.nodes, changes=args.changes, state_kb=args.kb
            )
            web.wait_indexed(timeout=300)
            headers = {"Authorization": f"Bearer {web.keys.read}"}
            path = f"{web.url}/api/v1/traces/{trace_id}/workflows/{span_id}/run"
            for label in ("built", "cached"):
                began = time.perf_counter()
                response = httpx.get(path, headers=headers, timeout=300)
                took = (time.perf_counter() - began) * 1000
                size = len(response.content) / 1e6
                print(f"GET .../run ({label}): {took:.0f} ms, {size:.1f} MB")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                web.sign_in(page)
                print(
                    f"open the run: {open_run_ms(page, run_url(web.url, trace_id, span_id)):.0f} ms"
                )
                print(f"one step (arrow key): {step_ms(page):.0f} ms")
                last = args.changes // args.nodes * args.nodes
                print(f"jump to the last change: {jump_ms(page, last):.0f} ms")
                browser.close()
        finally:
            web.server.stop()
            web.server.kill()


if __name__ == "__main__":
    main()
