"""axe-core on a page in both themes, switched with the layout's own theme toggle (as a
user would), then back to following the OS."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.axe import assert_accessible


def assert_accessible_in_both_themes(page: Page) -> None:
    page.emulate_media(color_scheme="light")
    html = page.locator("html")
    expect(html).not_to_have_attribute("data-theme", "dark")
    assert_accessible(page)
    page.get_by_role("button", name="Theme: system").click()
    expect(html).to_have_attribute("data-theme", "dark")
    assert_accessible(page)
    page.get_by_role("button", name="Theme: dark").click()  # back to the OS's
    expect(html).not_to_have_attribute("data-theme", "dark")
