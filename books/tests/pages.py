"""Helpers for reading and walking cursor-paginated lists in tests."""

from rest_framework.test import APIClient

LIST_URL = "/books/"
MAX_PAGES = 500  # a walk longer than this is a bug in the cursor, not a big list


def get_page(client: APIClient, url: str, params: dict[str, object] | None = None) -> dict:
    """GET one page, asserting a 200 and exactly the envelope's keys ("search" with a search)."""
    response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    body = response.json()
    searched = bool(str((params or {}).get("search", "")).strip()) or "search=" in url
    envelope = {"next", "previous", "results"}
    assert set(body) == (envelope | {"search"} if searched else envelope), set(body)
    return body


def walk_forward(client: APIClient, params: dict[str, object] | None = None) -> list[dict]:
    """Every page from the first, following `next` until it is null."""
    pages = [get_page(client, LIST_URL, params)]
    while pages[-1]["next"] is not None:
        assert len(pages) < MAX_PAGES, "the walk does not end"
        pages.append(get_page(client, pages[-1]["next"]))
    return pages


def walk_backward(client: APIClient, page: dict) -> list[dict]:
    """Every page before `page`, following `previous` until it is null, nearest first."""
    pages = []
    while page["previous"] is not None:
        assert len(pages) < MAX_PAGES, "the walk does not end"
        page = get_page(client, page["previous"])
        pages.append(page)
    return pages


def ids(page: dict) -> list[int]:
    return [book["id"] for book in page["results"]]


def all_ids(pages: list[dict]) -> list[int]:
    return [book_id for page in pages for book_id in ids(page)]
