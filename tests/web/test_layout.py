"""The layout every signed-in page shares: navigation, the theme toggle, the session guard."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.web import WebServer
from tests.web.axe import assert_accessible


def test_a_signed_out_visitor_is_sent_to_sign_in_with_the_page_to_come_back_to(
    page: Page, web: WebServer
):
    page.goto(web.url + "/traces?errors=1")
    expect(page).to_have_url(web.url + "/login?next=%2Ftraces%3Ferrors%3D1")


def test_the_navigation_marks_the_current_page_and_moves_without_reload(
    signed_in: Page, web: WebServer
):
    signed_in.goto(web.url + "/")
    nav = signed_in.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Home")).to_have_attribute("aria-current", "page")
    signed_in.evaluate("window.__same_document = true")
    nav.get_by_role("link", name="Traces").click()
    expect(signed_in).to_have_url(web.url + "/traces")
    expect(nav.get_by_role("link", name="Traces")).to_have_attribute("aria-current", "page")
    assert signed_in.evaluate("window.__same_document") is True
    signed_in.go_back()
    expect(signed_in).to_have_url(web.url + "/")
    expect(signed_in.get_by_text(web.email)).to_be_visible()


def test_the_theme_toggle_overrides_the_os_and_is_remembered(signed_in: Page, web: WebServer):
    signed_in.emulate_media(color_scheme="light")
    signed_in.goto(web.url + "/")
    html = signed_in.locator("html")
    expect(html).not_to_have_attribute("data-theme", "dark")
    signed_in.get_by_role("button", name="Theme: system").click()
    expect(html).to_have_attribute("data-theme", "dark")
    background = signed_in.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 23, 28)"
    signed_in.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(signed_in.get_by_role("button", name="Theme: dark")).to_be_visible()


def test_a_dark_os_gets_the_dark_colours_until_the_toggle_picks_light(
    signed_in: Page, web: WebServer
):
    signed_in.emulate_media(color_scheme="dark")
    signed_in.goto(web.url + "/")
    expect(signed_in.locator("html")).not_to_have_attribute("data-theme", re.compile("."))
    body = "getComputedStyle(document.body).backgroundColor"
    assert signed_in.evaluate(body) == "rgb(20, 23, 28)"
    signed_in.get_by_role("button", name="Theme: system").click()
    expect(signed_in.locator("html")).to_have_attribute("data-theme", "light")
    assert signed_in.evaluate(body) == "rgb(255, 255, 255)"


def test_the_layout_has_no_serious_accessibility_violations(signed_in: Page, web: WebServer):
    signed_in.goto(web.url + "/")
    expect(signed_in.get_by_role("navigation", name="Main")).to_be_visible()
    assert_accessible(signed_in)
    signed_in.emulate_media(color_scheme="dark")
    assert_accessible(signed_in)  # contrast in the dark theme too


def test_on_a_phone_the_navigation_wraps_instead_of_scrolling_sideways(
    signed_in: Page, web: WebServer
):
    signed_in.set_viewport_size({"width": 390, "height": 800})
    signed_in.goto(web.url + "/account")
    expect(signed_in.get_by_role("link", name="Ingest")).to_be_visible()
    expect(signed_in.get_by_role("button", name="Sign out")).to_be_visible()
    width = signed_in.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide"
