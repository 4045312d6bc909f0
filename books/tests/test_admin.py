"""The Django admin for books: it works, and its writes go through books.services."""

import datetime

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from books import services
from books.isbn import INVALID_ISBN_MESSAGE
from books.models import Book
from books.tests.factories import BookFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/books/book/"
ADD = "/admin/books/book/add/"
CANONICAL = "9780306406157"
DUPLICATE_FORM_MESSAGE = "Book with this ISBN already exists."


def _change_url(book: Book) -> str:
    return f"/admin/books/book/{book.pk}/change/"


def _form(**overrides: str) -> dict[str, str]:
    data = {
        "title": "The Pragmatic Programmer",
        "author": "Andrew Hunt",
        "publication_date": "1999-10-20",
        "publication_date_precision": "day",  # the form's select, preselected
        "isbn": "0-306-40615-2",
        "summary": "From journeyman to master.",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def _changelist_pks(response) -> set[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content[:500]
    return {book.pk for book in response.context["cl"].result_list}


def _form_errors(response) -> dict:  # type: ignore[no-untyped-def]
    """The errors of the add/change form shown again (a 200, not a redirect)."""
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


@pytest.fixture
def staff_client() -> Client:
    admin = get_user_model().objects.create_superuser(
        username="admin", email="admin@example.com", password="a-long-admin-password-1"
    )
    assert admin.is_staff
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def service_calls(monkeypatch):  # type: ignore[no-untyped-def]
    """Records each call the admin makes to books.services, letting the call through."""
    calls: list[str] = []
    for name in ("book_create", "book_update", "book_delete"):
        real = getattr(services, name)

        def spy(*args, _real=real, _name=name, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(services, name, spy)
    return calls


# --- Reading ----------------------------------------------------------------------------


def test_staff_superuser_can_open_the_changelist(staff_client):
    books = BookFactory.create_batch(3)

    response = staff_client.get(CHANGELIST)

    assert _changelist_pks(response) == {book.pk for book in books}
    for book in books:
        assert book.title in response.content.decode()


def test_anonymous_user_is_sent_to_the_admin_login(client):
    BookFactory()

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_non_staff_user_is_sent_to_the_admin_login(client, user):
    client.force_login(user)

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("Pragmatic", "pragmatic"),
        ("pragmatic programmer", "pragmatic"),
        ("Hunt", "pragmatic"),
        ("Kernighan", "kr"),
        ("9780131103627", "kr"),
        ("0306406", "pragmatic"),
        ("no such book", None),
    ],
)
def test_admin_search_finds_books_by_title_author_or_isbn(staff_client, query, matches):
    books = {
        "pragmatic": BookFactory(
            title="The Pragmatic Programmer", author="Andrew Hunt", isbn=CANONICAL
        ),
        "kr": BookFactory(
            title="The C Programming Language", author="Brian Kernighan", isbn="9780131103627"
        ),
    }

    response = staff_client.get(CHANGELIST, {"q": query})

    expected = {books[matches].pk} if matches else set()
    assert _changelist_pks(response) == expected


def test_admin_filter_by_publication_date_range(staff_client):
    old = BookFactory(publication_date=datetime.date(1978, 2, 22))
    new = BookFactory(publication_date=datetime.date(2019, 9, 13))

    response = staff_client.get(
        CHANGELIST,
        {"publication_date__gte": "2000-01-01", "publication_date__lt": "2030-01-01"},
    )

    assert _changelist_pks(response) == {new.pk}
    assert old.pk not in _changelist_pks(response)


def test_admin_date_hierarchy_narrows_by_year(staff_client):
    old = BookFactory(publication_date=datetime.date(1978, 2, 22))
    BookFactory(publication_date=datetime.date(2019, 9, 13))

    response = staff_client.get(CHANGELIST, {"publication_date__year": "1978"})

    assert _changelist_pks(response) == {old.pk}


def test_admin_filter_by_created_at_today(staff_client):
    book = BookFactory()
    today = book.created_at.replace(hour=0, minute=0, second=0, microsecond=0)

    response = staff_client.get(
        CHANGELIST,
        {
            "created_at__gte": str(today),
            "created_at__lt": str(today + datetime.timedelta(days=1)),
        },
    )
    yesterday = staff_client.get(
        CHANGELIST,
        {
            "created_at__gte": str(today - datetime.timedelta(days=1)),
            "created_at__lt": str(today),
        },
    )

    assert _changelist_pks(response) == {book.pk}
    assert _changelist_pks(yesterday) == set()


def test_admin_add_page_opens(staff_client):
    response = staff_client.get(ADD)

    assert response.status_code == 200
    fields = response.context["adminform"].form.fields
    assert {"title", "author", "publication_date", "isbn", "summary"} <= set(fields)


def test_admin_change_page_shows_the_book(staff_client):
    book = BookFactory(isbn=CANONICAL)

    response = staff_client.get(_change_url(book))

    assert response.status_code == 200
    assert response.context["adminform"].form.instance.pk == book.pk
    content = response.content.decode()
    assert CANONICAL in content
    assert book.author in content


# --- Writing ----------------------------------------------------------------------------


def test_adding_a_book_in_admin_stores_the_13_digit_isbn(staff_client, service_calls):
    response = staff_client.post(ADD, _form(isbn="0-306-40615-2", title="  Padded title  "))

    assert response.status_code == 302, _form_errors(response)
    book = Book.objects.get()
    assert book.isbn == CANONICAL
    assert book.title == "Padded title"
    assert service_calls == ["book_create"]
    assert LogEntry.objects.filter(object_id=str(book.pk), action_flag=ADDITION).exists()


def test_changing_a_book_in_admin_goes_through_the_service(staff_client, service_calls):
    book = BookFactory()

    response = staff_client.post(
        _change_url(book), _form(isbn="0-8044-2957-x", title="Changed", author="Someone Else")
    )

    assert response.status_code == 302, _form_errors(response)
    book.refresh_from_db()
    assert (book.title, book.author, book.isbn) == ("Changed", "Someone Else", "9780804429573")
    assert service_calls == ["book_update"]
    assert LogEntry.objects.filter(object_id=str(book.pk), action_flag=CHANGE).exists()


@pytest.mark.parametrize("spelling", ["0-306-40615-2", "978-0-306-40615-7", "9780306406157"])
def test_duplicate_isbn_in_admin_add_form_shows_error_and_stores_nothing(
    staff_client, service_calls, spelling
):
    existing = BookFactory(isbn=CANONICAL)

    response = staff_client.post(ADD, _form(isbn=spelling, title="A copy"))

    errors = _form_errors(response)
    assert errors["isbn"] == [DUPLICATE_FORM_MESSAGE]
    assert DUPLICATE_FORM_MESSAGE in response.content.decode()
    assert list(Book.objects.values_list("pk", flat=True)) == [existing.pk]
    assert service_calls == []


def test_duplicate_isbn_in_admin_change_form_shows_error_and_changes_nothing(staff_client):
    BookFactory(isbn=CANONICAL)
    book = BookFactory()
    before = Book.objects.values().get(pk=book.pk)

    response = staff_client.post(_change_url(book), _form(isbn="0-306-40615-2"))

    assert _form_errors(response)["isbn"] == [DUPLICATE_FORM_MESSAGE]
    assert Book.objects.values().get(pk=book.pk) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("isbn", "0-306-40615-3"),
        ("isbn", "not an isbn"),
        ("title", "   "),
        ("author", ""),
        ("title", "t" * 201),
        ("publication_date", "2020-13-01"),
    ],
)
def test_invalid_admin_add_form_shows_error_and_stores_nothing(staff_client, field, value):
    response = staff_client.post(ADD, _form(**{field: value}))

    errors = _form_errors(response)
    assert set(errors) == {field}
    assert Book.objects.count() == 0


def test_invalid_isbn_in_admin_form_shows_the_isbn_message(staff_client):
    response = staff_client.post(ADD, _form(isbn="0-306-40615-3"))

    assert _form_errors(response)["isbn"] == [INVALID_ISBN_MESSAGE]


def test_deleting_a_book_in_admin_removes_it(staff_client, service_calls):
    book, other = BookFactory(), BookFactory()

    confirm = staff_client.get(f"/admin/books/book/{book.pk}/delete/")
    response = staff_client.post(f"/admin/books/book/{book.pk}/delete/", {"post": "yes"})

    assert confirm.status_code == 200
    assert response.status_code == 302
    assert list(Book.objects.values_list("pk", flat=True)) == [other.pk]
    assert service_calls == ["book_delete"]
    assert LogEntry.objects.filter(object_id=str(book.pk), action_flag=DELETION).exists()


def test_bulk_delete_action_in_admin_removes_the_selected_books(staff_client, service_calls):
    first, second, kept = BookFactory(), BookFactory(), BookFactory()

    response = staff_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert list(Book.objects.values_list("pk", flat=True)) == [kept.pk]
    assert service_calls == ["book_delete", "book_delete"]
