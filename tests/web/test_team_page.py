"""The users page in a real browser against a real ``junjo serve``: list, add (who can then
sign in), delete after a confirmation (their sessions end), and never yourself."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.web import WebServer
from tests.web.axe import assert_accessible
from tests.web.themes import assert_accessible_in_both_themes

PASSWORD = "their first password"


def user_row(page: Page, email: str):
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=email))


def add_user(page: Page, email: str, password: str = PASSWORD) -> None:
    form = page.locator("form").filter(has=page.get_by_role("heading", name="Add a user"))
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Add user").click()


def test_the_list_marks_you_and_offers_no_way_to_delete_yourself(signed_in: Page, web: WebServer):
    page = signed_in
    page.goto(web.url + "/team")
    me = user_row(page, web.email)
    expect(me).to_contain_text("you")
    expect(me.get_by_role("button")).to_have_count(0)
    expect(me.get_by_role("link", name="Change your password")).to_have_attribute(
        "href", "/account"
    )
    assert_accessible_in_both_themes(page)
    # The server refuses it too, whatever a page offers.
    own_id = next(
        u["id"] for u in page.request.get(web.url + "/users").json() if u["email"] == web.email
    )
    refused = page.request.delete(web.url + f"/users/{own_id}")
    assert refused.status == 409
    assert "cannot delete yourself" in refused.json()["detail"]


def test_an_added_user_can_sign_in(signed_in: Page, web: WebServer):
    page = signed_in
    page.goto(web.url + "/team")
    add_user(page, "New.Person@Example.com")
    notice = page.get_by_role("status").filter(has_text="Added new.person@example.com")
    expect(notice).to_be_focused()
    expect(user_row(page, "new.person@example.com")).to_be_visible()
    expect(page.get_by_label("Email", exact=True)).to_have_value("")
    assert_accessible(page)
    body = {"email": "new.person@example.com", "password": PASSWORD}
    assert httpx.post(web.url + "/sign-in", json=body).status_code == 200


@pytest.mark.allow_console(r"status of (409|422)")
def test_adding_says_what_is_wrong(signed_in: Page, web: WebServer):
    page = signed_in
    page.goto(web.url + "/team")
    add_user(page, "someone@example.com", "short")
    expect(page.get_by_role("alert")).to_have_text("password: must be at least 8 characters")
    expect(page.get_by_label("Password")).to_be_focused()
    add_user(page, web.email.upper())
    expect(page.get_by_role("alert")).to_have_text("A user with this email exists already.")
    expect(page.get_by_label("Email", exact=True)).to_be_focused()
    assert_accessible(page)


def test_deleting_a_user_asks_first_and_ends_their_sessions(signed_in: Page, web: WebServer):
    page = signed_in
    page.goto(web.url + "/team")
    add_user(page, "leaver@example.com")
    row = user_row(page, "leaver@example.com")
    expect(row).to_be_visible()
    with httpx.Client(base_url=web.url) as theirs:
        body = {"email": "leaver@example.com", "password": PASSWORD}
        assert theirs.post("/sign-in", json=body).status_code == 200
        row.get_by_role("button", name="Delete user leaver@example.com").click()
        dialog = page.get_by_role("dialog", name="Delete this user?")
        expect(dialog).to_contain_text("leaver@example.com can no longer sign in")
        expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        assert_accessible(page)
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(row).to_be_visible()
        row.get_by_role("button", name="Delete user leaver@example.com").click()
        dialog.get_by_role("button", name="Delete user").click()
        expect(row).to_have_count(0)
        expect(page.get_by_role("heading", name="People who can sign in")).to_be_focused()
        assert theirs.get("/auth-test").status_code == 401
    page.reload()
    expect(user_row(page, web.email)).to_be_visible()
    expect(user_row(page, "leaver@example.com")).to_have_count(0)
