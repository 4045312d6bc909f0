"""An address under /app/ that is no page: the app's own "Page not found", from the server (a
404 with the app's header and a way back) and from the router for a route it does not know."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_an_unknown_address_is_the_apps_not_found_page_with_a_404(page: Page) -> None:
    response = page.goto("/app/no-such-page/")

    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page).to_have_title("Page not found \N{EN DASH} Bookstore")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()  # the app's header

    page.get_by_role("link", name="Go to the catalogue").click()

    expect(page.get_by_role("heading", name="Catalogue")).to_be_visible()
    expect(page).to_have_url(f"{page.url.split('/app/')[0]}/app/")


def test_a_client_route_the_router_does_not_know_shows_not_found(page: Page) -> None:
    page.goto("/app/")
    expect(page.get_by_role("heading", name="Catalogue")).to_be_visible()
    # A link inside the app to an address it has no view for, followed by the router (no
    # page load: the marker below survives).
    page.evaluate(
        """() => {
          window.__sameDocument = true;
          const link = document.createElement("a");
          link.href = "/app/books/7/reviews/";
          link.textContent = "Reviews";
          document.querySelector("#view-catalogue").append(link);
        }"""
    )

    page.get_by_role("link", name="Reviews").click()

    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("heading", name="Catalogue")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True

    page.go_back()
    expect(page.get_by_role("heading", name="Catalogue")).to_be_visible()
