"""The API root (`/`) links to everything a client can use, and every link leads somewhere."""

from typing import Any
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

#: What the root links to, as {key: path}: the router's resource first, then the rest.
EXPECTED_LINKS = {
    "books": "/books/",
    "books_count": "/books/count/",
    "books_export": "/books/export/",
    "books_permissions": "/books/permissions/",
    "schema": "/api/schema/",
    "docs": "/api/docs/",
    "app": "/app/",
    "sign_in": "/auth/token/",
    "sign_out": "/auth/logout/",
    "sign_out_everywhere": "/auth/logout-all/",
    "health": "/healthz",
    "ready": "/readyz",
    "admin": "/admin/",
}
#: How each link answers a GET from a client with a token: the sign-in and sign-out
#: addresses take POST only, the admin sends a browser to its own sign-in.
STATUS_OF_A_GET = {"sign_in": 405, "sign_out": 405, "sign_out_everywhere": 405, "admin": 302}


def _links(client: APIClient) -> dict[str, Any]:
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return dict(response.json())


def test_the_root_links_the_resources_schema_docs_web_page_export_and_sign_in(
    api_client: APIClient,
) -> None:
    links = _links(api_client)

    assert list(links) == list(EXPECTED_LINKS)
    assert {key: urlsplit(url).path for key, url in links.items()} == EXPECTED_LINKS
    # Absolute, on the host the client asked, as the router's own link is.
    assert {urlsplit(url).netloc for url in links.values()} == {"testserver"}


def test_every_link_answers(auth_client: APIClient) -> None:
    for key, url in _links(auth_client).items():
        response = auth_client.get(url)
        assert response.status_code == STATUS_OF_A_GET.get(key, 200), (key, url)


def test_the_links_name_the_host_the_client_asked(api_client: APIClient) -> None:
    links = _links(APIClient(HTTP_HOST="localhost:8000"))

    assert links["app"] == "http://localhost:8000/app/"
    assert links["schema"] == "http://localhost:8000/api/schema/"
