"""Signing in and out in a real browser: the API's token, kept across reloads, forgotten on
sign-out; refused credentials are explained and nothing typed is lost."""

import re

import pytest
from playwright.sync_api import Page, expect

from web.tests.browser import screenshot
from web.tests.live_app import LiveApp

pytestmark = pytest.mark.e2e

TOKEN_IN_STORAGE = "localStorage.getItem('bookstore.token')"


def test_sign_in_explains_refusals_then_signs_in_and_out(page: Page, live_app: LiveApp) -> None:
    page.goto("/app/")
    page.get_by_role("link", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/app/sign-in/\?next=%2Fapp%2F$"))
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_focused()
    username = page.get_by_label("Username")
    password = page.get_by_label("Password")
    submit = page.get_by_role("button", name="Sign in", exact=True)
    errors = page.locator("#sign-in-errors")

    username.fill(live_app.username)
    submit.click()
    expect(page.locator("#sign-in-password-error")).to_have_text("This field may not be blank.")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_be_focused()

    password.fill("not-the-password")
    submit.click()
    expect(errors).to_contain_text("Unable to log in with provided credentials.")
    expect(errors).to_be_focused()
    expect(password).not_to_have_attribute("aria-invalid", "true")
    expect(username).to_have_value(live_app.username)
    expect(password).to_have_value("not-the-password")
    screenshot(page, "sign-in")

    password.fill(live_app.password)
    submit.click()
    expect(page).to_have_url(re.compile(r"/app/$"))
    expect(page.locator("#flash")).to_have_text(f"Signed in as {live_app.username}.")
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {live_app.username}")
    expect(page.get_by_role("link", name="Add a book")).to_be_visible()
    token = page.evaluate(TOKEN_IN_STORAGE)
    assert token
    assert token != live_app.token  # each sign-in gets a token of its own

    page.reload()
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {live_app.username}")

    with page.expect_response(re.compile(r"/auth/logout/$")) as logout:
        page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_focused()
    expect(page.get_by_role("link", name="Add a book")).to_be_hidden()
    expect(page.locator("#flash")).to_have_text("You are signed out.")
    assert page.evaluate(TOKEN_IN_STORAGE) is None
    # The server revoked the token too: a copy of it no longer works.
    assert logout.value.status == 204
    revoked = page.request.get(
        f"{live_app.url}/books/", headers={"Authorization": f"Token {token}"}
    )
    assert revoked.status == 401


def test_adding_a_book_signed_out_asks_to_sign_in_and_comes_back(
    page: Page, live_app: LiveApp
) -> None:
    page.goto("/app/books/new/")

    expect(page).to_have_url(re.compile(r"/app/sign-in/\?next=%2Fapp%2Fbooks%2Fnew%2F$"))
    expect(page.get_by_text("Sign in to add, edit or delete books.")).to_be_visible()
    page.get_by_label("Username").fill(live_app.username)
    page.get_by_label("Password").fill(live_app.password)
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page).to_have_url(re.compile(r"/app/books/new/$"))
    expect(page.get_by_role("heading", name="Add a book", level=1)).to_be_visible()


def test_a_token_the_server_no_longer_knows_is_forgotten_and_reading_goes_on(page: Page) -> None:
    page.goto("/app/sign-in/")
    page.evaluate("""() => {
        localStorage.setItem('bookstore.token', 'revoked-token');
        localStorage.setItem('bookstore.username', 'someone');
    }""")

    page.goto("/app/")

    expect(page.get_by_role("list", name="Catalogue").get_by_role("listitem")).to_have_count(20)
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    expect(page.locator("#signed-in-as")).to_be_hidden()
    assert page.evaluate(TOKEN_IN_STORAGE) is None
