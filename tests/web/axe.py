"""axe-core (vendored by scripts/vendor_web.py into tests/web/vendor/) run on a page: the
browser tests call ``assert_accessible(page)`` on every page they visit."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from playwright.sync_api import Page

VENDOR = Path(__file__).resolve().with_name("vendor")
SERIOUS = ("serious", "critical")


@cache
def _axe_source() -> str:
    (record,) = [r for r in json.loads((VENDOR / "VENDORED.json").read_text())]
    return (VENDOR / f"{record['name']}-{record['version']}" / "axe.min.js").read_text()


def violations(page: Page) -> list[dict]:
    """axe's serious and critical violations of the page as it is now (WCAG 2.1 A/AA rules
    and best practices)."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern: the
    # page itself still loads nothing but its own files.
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    found = page.evaluate("async () => (await window.axe.run(document)).violations")
    return [v for v in found if v["impact"] in SERIOUS]


def assert_accessible(page: Page) -> None:
    found = violations(page)
    summary = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in found
    ]
    assert found == [], "axe-core found serious violations:\n" + "\n".join(summary)
