"""The page shows only what the signed-in person may do (issue 13, finding 6): a reader
(create_api_user --role reader) sees no add, edit or delete button; an editor sees them."""

import pytest
from playwright.sync_api import Page, expect

from web.tests.live_app import READER_USERNAME, LiveApp

pytestmark = pytest.mark.e2e


def _sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/app/sign-in/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {username}")


def _open_first_book(page: Page) -> None:
    page.goto("/app/")
    page.get_by_role("list", name="Catalogue").get_by_role("link").first.click()
    expect(page.locator("#detail-author")).not_to_be_empty()


def test_a_reader_sees_no_add_edit_or_delete(page: Page, live_app: LiveApp) -> None:
    _sign_in(page, READER_USERNAME, live_app.reader_password)

    expect(page.get_by_role("link", name="Add a book")).to_be_hidden()
    _open_first_book(page)
    expect(page.locator("#detail-edit-link")).to_be_hidden()
    expect(page.locator("#detail-delete-button")).to_be_hidden()


def test_an_editor_sees_add_edit_and_delete(page: Page, live_app: LiveApp) -> None:
    _sign_in(page, live_app.username, live_app.password)

    expect(page.get_by_role("link", name="Add a book")).to_be_visible()
    _open_first_book(page)
    expect(page.locator("#detail-edit-link")).to_be_visible()
    expect(page.locator("#detail-delete-button")).to_be_visible()
