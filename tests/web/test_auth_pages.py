"""First-user setup, sign-in, sign-out, an ended session and changing your password, in a
real browser against a real ``junjo serve``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from junjo.features.users import service as users
from junjo.kernel.principal import Principal
from tests.support.web import WebServer, start_web_server
from tests.web.axe import assert_accessible
from tests.web.themes import assert_accessible_in_both_themes

# Chromium logs every 4xx a fetch gets as a console error; these tests provoke them.
REFUSED = r"status of (401|403|422|429)"


@pytest.fixture
def fresh(tmp_path) -> Iterator[WebServer]:
    """A server with no user yet: first-user setup is pending. (Ask for it before ``page``,
    so that the page closes before the server stops.)"""
    web = start_web_server(tmp_path / "data", with_user=False)
    yield web
    web.server.stop()
    web.server.kill()


def add_user(web: WebServer, email: str, password: str = "a fine password") -> None:
    users.create_user(web.keys.control.db, Principal.operator(), email, password)


def sign_in_form(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in_as(page: Page, email: str) -> None:
    expect(page.get_by_role("link", name=email)).to_be_visible()


@pytest.mark.allow_console(REFUSED)
def test_setup_with_the_typed_token_creates_the_first_user_and_signs_in(
    fresh: WebServer, page: Page
):
    page.goto(fresh.url + "/")
    expect(page).to_have_url(fresh.url + "/welcome")
    expect(page.get_by_role("heading", name="Set up Junjo")).to_be_visible()
    token = page.get_by_label("Setup token")
    expect(token).to_be_focused()
    assert_accessible_in_both_themes(page)
    token.fill("not-the-token")
    page.get_by_label("Email").fill("first@example.com")
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Create user and sign in").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile("not the setup token"))
    expect(token).to_be_focused()
    assert_accessible(page)
    token.fill(fresh.server.setup_token)
    page.get_by_role("button", name="Create user and sign in").click()
    expect(page).to_have_url(fresh.url + "/keys?welcome=1")
    expect(page.get_by_text("You are signed in. Next, create an API key")).to_be_visible()
    signed_in_as(page, "first@example.com")
    # The setup page now says it is done, and the server agrees.
    page.goto(fresh.url + "/welcome")
    expect(page).to_have_url(fresh.url + "/")
    assert httpx.get(fresh.url + "/users/db-has-users").json() == {"users_exist": True}


def test_setup_through_the_printed_link_needs_no_token(fresh: WebServer, page: Page):
    link = re.search(r"(http://\S+/setup\?token=\S+)", fresh.server.log)
    assert link, fresh.server.log
    page.goto(link.group(1))
    expect(page).to_have_url(fresh.url + "/welcome")
    expect(page.get_by_text("You opened the setup link")).to_be_visible()
    expect(page.get_by_label("Setup token")).to_have_count(0)
    expect(page.get_by_label("Email")).to_be_focused()
    assert_accessible_in_both_themes(page)
    page.get_by_label("Email").fill("linked@example.com")
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Create user and sign in").click()
    expect(page).to_have_url(fresh.url + "/keys?welcome=1")
    signed_in_as(page, "linked@example.com")
    expect(page.get_by_role("cell", name="exporter", exact=True)).to_be_visible()  # the keys listed


def test_a_server_with_users_sends_setup_to_sign_in(page: Page, web: WebServer):
    page.goto(web.url + "/welcome")
    expect(page.get_by_text("This server is set up already")).to_be_visible()
    page.get_by_role("link", name="Sign in").last.click()
    expect(page).to_have_url(web.url + "/login")


@pytest.mark.allow_console(REFUSED)
def test_sign_in_says_a_password_is_wrong_then_goes_where_you_were_going(
    page: Page, web: WebServer
):
    add_user(web, "typo@example.com")
    page.goto(web.url + "/team")
    expect(page).to_have_url(web.url + "/login?next=%2Fteam")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_focused()
    assert_accessible_in_both_themes(page)
    sign_in_form(page, "typo@example.com", "a fine passwrod")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Password")).to_be_focused()
    assert_accessible(page)
    page.get_by_label("Password").fill("a fine password")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(web.url + "/team")
    signed_in_as(page, "typo@example.com")


@pytest.mark.allow_console(REFUSED)
def test_a_throttled_sign_in_says_when_to_try_again(page: Page, web: WebServer):
    add_user(web, "guessed@example.com")
    wrong = {"email": "guessed@example.com", "password": "wrong password"}
    for _ in range(5):  # what the throttle allows one client for one account
        assert page.request.post(web.url + "/sign-in", data=wrong).status == 401
    page.goto(web.url + "/login")
    sign_in_form(page, "guessed@example.com", "a fine password")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(
        re.compile(r"Too many failed sign-in attempts\. Try again in 15 min \(at \d\d:\d\d\)\.")
    )
    expect(page).to_have_url(web.url + "/login")


def test_a_next_to_another_site_is_not_followed(page: Page, web: WebServer):
    page.goto(web.url + "/login?next=//evil.example/x")
    sign_in_form(page, web.email, web.password)
    expect(page).to_have_url(web.url + "/")


@pytest.mark.allow_console(REFUSED)
def test_an_ended_session_says_so_and_signing_in_returns_to_the_page(page: Page, web: WebServer):
    add_user(web, "ended@example.com")
    web.sign_in(page, "ended@example.com", "a fine password")
    page.goto(web.url + "/keys")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    # The same user signs out in another browser: every session of theirs ends.
    with httpx.Client(base_url=web.url) as other:
        body = {"email": "ended@example.com", "password": "a fine password"}
        assert other.post("/sign-in", json=body).status_code == 200
        assert other.post("/sign-out").status_code == 200
    page.get_by_label("Name").fill("after the end")
    page.get_by_role("button", name="Create key").click()
    expect(page).to_have_url(web.url + "/login?next=%2Fkeys&expired=1")
    expect(page.get_by_text("Your session has ended.")).to_be_visible()
    expect(page.get_by_role("link", name="ended@example.com")).to_have_count(0)
    assert_accessible(page)
    sign_in_form(page, "ended@example.com", "a fine password")
    expect(page).to_have_url(web.url + "/keys")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()


def test_sign_out_in_the_navigation_ends_the_session(page: Page, web: WebServer):
    add_user(web, "leaving@example.com")
    web.sign_in(page, "leaving@example.com", "a fine password")
    page.goto(web.url + "/account")
    signed_in_as(page, "leaving@example.com")
    page.get_by_role("button", name="Sign out").click()
    # Plain /login: signing out is not an expired session to come back from.
    expect(page).to_have_url(web.url + "/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto(web.url + "/keys")
    expect(page).to_have_url(web.url + "/login?next=%2Fkeys")
    assert page.request.get(web.url + "/auth-test").status == 401


@pytest.mark.allow_console(REFUSED)
def test_changing_your_password_ends_other_sessions_and_keeps_this_one(page: Page, web: WebServer):
    add_user(web, "changer@example.com", "the old password")
    web.sign_in(page, "changer@example.com", "the old password")
    with httpx.Client(base_url=web.url) as other:
        body = {"email": "changer@example.com", "password": "the old password"}
        assert other.post("/sign-in", json=body).status_code == 200
        page.goto(web.url + "/account")
        expect(page.get_by_text("Signed in as changer@example.com")).to_be_visible()
        assert_accessible_in_both_themes(page)
        current = page.get_by_label("Current password")
        new, again = (
            page.get_by_label("New password", exact=True),
            page.get_by_label("New password again"),
        )
        button = page.get_by_role("button", name="Change password")

        current.fill("not the old one")
        new.fill("the new password")
        again.fill("the new password")
        button.click()
        expect(page.get_by_role("alert")).to_have_text("Your current password is not correct.")
        expect(current).to_be_focused()

        current.fill("the old password")
        again.fill("the new passwort")
        button.click()
        expect(page.get_by_role("alert")).to_have_text("The new passwords do not match.")
        expect(again).to_be_focused()

        new.fill("short")
        again.fill("short")
        button.click()
        expect(page.get_by_role("alert")).to_have_text("password: must be at least 8 characters")
        expect(new).to_be_focused()
        assert_accessible(page)

        new.fill("the new password")
        again.fill("the new password")
        button.click()
        notice = page.get_by_role("status").filter(has_text="Password changed")
        expect(notice).to_be_focused()
        expect(current).to_have_value("")
        assert other.get("/auth-test").status_code == 401  # the other session ended
    page.reload()  # this one was renewed
    expect(page.get_by_text("Signed in as changer@example.com")).to_be_visible()
    old = {"email": "changer@example.com", "password": "the old password"}
    assert httpx.post(web.url + "/sign-in", json=old).status_code == 401
    new_body = {"email": "changer@example.com", "password": "the new password"}
    assert httpx.post(web.url + "/sign-in", json=new_body).status_code == 200
