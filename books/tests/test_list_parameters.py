"""The list refuses query parameters it does not know (issue 13, finding 4): a client sending
``?page=2`` or ``?limit=5`` learns it, instead of getting the first page forever."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "unknown"),
    [("page=2", ["page"]), ("limit=5&page_size=2", ["limit"]), ("b=1&a=2", ["a", "b"])],
)
def test_an_unknown_parameter_is_a_400_naming_it(
    api_client: APIClient, query: str, unknown: list[str]
) -> None:
    response = api_client.get(f"/books/?{query}")

    assert response.status_code == 400
    body = response.json()
    assert sorted(body) == unknown
    for name in unknown:
        assert "Unknown query parameter" in body[name][0]


@pytest.mark.parametrize(
    "query",
    [
        "author=x&isbn=&published_after=&published_before=&search=",
        "ordering=title&page_size=5",
        "format=json",
    ],
)
def test_the_known_parameters_are_accepted(api_client: APIClient, query: str) -> None:
    assert api_client.get(f"/books/?{query}").status_code == 200
