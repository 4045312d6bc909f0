"""Titles and authors must show what they store (issue 13, finding 11): text that is blank once
invisible characters are removed, or that carries bidirectional controls, is refused by the
one write path, so the API, the admin and every service caller give the same answer."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from books import services
from books.models import BIDI_CONTROL_MESSAGE, INVISIBLE_TEXT_MESSAGE, Book
from books.tests.factories import book_payload

pytestmark = pytest.mark.django_db

INVISIBLE_ONLY = [
    "\u200b",  # zero width space: the red team's author
    "\u200b\u200c\u200d",
    "\ufeff",
    "\u2060 \u00ad",
    "\u3164",  # Hangul filler: a letter that draws nothing
    " \u200b ",
]
WITH_BIDI_CONTROL = [
    "Harry Potter\u202e",
    "\u202egnp.exe",
    "Title \u2066isolated\u2069",
    "\u202a\u202b\u202c\u202d",
]
VISIBLE = [
    "שלום עולם",  # right-to-left script needs no controls
    "مرحبا",
    "👩\u200d💻 Programming",  # a zero width joiner inside an emoji sequence
    "Zero\u200bwidth inside",
    "Soft\u00adhyphen",
]


def _fields(**overrides: str) -> dict[str, str]:
    return {
        "title": "A title",
        "author": "An author",
        "publication_date": "2001-01-01",
        "isbn": "0-306-40615-2",
        **overrides,
    }


@pytest.mark.parametrize("field", ["title", "author"])
@pytest.mark.parametrize("value", INVISIBLE_ONLY)
def test_text_of_invisible_characters_only_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as error:
        services.book_create(**_fields(**{field: value}))

    assert error.value.message_dict[field] in (
        [INVISIBLE_TEXT_MESSAGE],
        ["This field cannot be blank."],
    )
    assert not Book.objects.exists()


@pytest.mark.parametrize("field", ["title", "author"])
@pytest.mark.parametrize("value", WITH_BIDI_CONTROL)
def test_bidirectional_control_characters_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as error:
        services.book_create(**_fields(**{field: value}))

    assert BIDI_CONTROL_MESSAGE in error.value.message_dict[field]
    assert not Book.objects.exists()


@pytest.mark.parametrize("value", VISIBLE)
def test_visible_text_in_any_script_is_accepted(value: str) -> None:
    book = services.book_create(**_fields(title=value, author=value))

    assert (book.title, book.author) == (value, value)


def test_the_api_answers_400_naming_the_field(
    api_client: APIClient, auth_client: APIClient
) -> None:
    response = auth_client.post(
        "/books/", book_payload(author="\u200b", title="Evil\u202etxt.exe"), format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json() == {
        "author": [INVISIBLE_TEXT_MESSAGE],
        "title": [BIDI_CONTROL_MESSAGE],
    }
    assert not Book.objects.exists()


def test_the_admin_shows_the_same_errors() -> None:
    admin = get_user_model().objects.create_superuser(
        username="admin", email="admin@example.com", password="a-long-admin-password-1"
    )
    client = Client()
    client.force_login(admin)

    response = client.post(
        "/admin/books/book/add/",
        {**_fields(title="Evil\u202etxt.exe", author="\u200b"), "summary": "", "_save": "Save"},
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["title"] == [BIDI_CONTROL_MESSAGE]
    assert errors["author"] == [INVISIBLE_TEXT_MESSAGE]
    assert not Book.objects.exists()


@pytest.mark.parametrize("field", ["title", "author"])
@pytest.mark.parametrize("value", [*INVISIBLE_ONLY[:3], *WITH_BIDI_CONTROL[:2]])
def test_the_importer_refuses_the_same_text_with_the_same_message(field: str, value: str) -> None:
    from books.importing.rows import RowRejected, RowValidator

    fields = _fields(**{field: value})
    with pytest.raises(RowRejected) as rejected:
        RowValidator().validate(
            fields["title"], fields["author"], fields["publication_date"], fields["isbn"], ""
        )
    with pytest.raises(ValidationError) as refused:
        services.book_create(**fields)

    messages = " ".join(error.message for error in rejected.value.errors)
    assert any(message in messages for message in refused.value.message_dict[field])


@pytest.mark.parametrize("value", VISIBLE)
def test_the_importer_accepts_visible_text_in_any_script(value: str) -> None:
    from books.importing.rows import RowValidator

    fields = _fields(title=value, author=value)
    clean = RowValidator().validate(
        fields["title"], fields["author"], fields["publication_date"], fields["isbn"], ""
    )
    assert clean[1] == value.strip()
