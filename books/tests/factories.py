"""factory_boy factories: the one place tests make books."""

import datetime
import itertools

import factory

from books.demo import demo_isbn
from books.models import Book

_isbn_numbers = itertools.count(900_000_000)

#: One ISBN in its stored form, and every way a client may spell it.
CANONICAL_ISBN = "9780306406157"
ISBN_SPELLINGS = [
    "9780306406157",
    "978-0-306-40615-7",
    "978 0 306 40615 7",
    "0306406152",
    "0-306-40615-2",
    "0 306 40615 2",
    " 978-0306406157 ",
    "0-30640615-2",
]


class BookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Book

    title = factory.Faker("sentence", nb_words=4)
    author = factory.Faker("name")
    publication_date = factory.Faker(
        "date_between", start_date=datetime.date(1950, 1, 1), end_date=datetime.date(2024, 1, 1)
    )
    isbn = factory.LazyFunction(lambda: demo_isbn(next(_isbn_numbers)))
    summary = factory.Faker("paragraph")


def book_payload(**overrides: object) -> dict[str, object]:
    """A valid JSON body for POST /books/, with any field overridden."""
    payload: dict[str, object] = {
        "title": "The Pragmatic Programmer",
        "author": "Andrew Hunt",
        "publication_date": "1999-10-20",
        "isbn": "0-306-40615-2",
        "summary": "From journeyman to master.",
    }
    payload.update(overrides)
    return payload


def book_published(title: str, author: str, year: int, summary: str = "") -> Book:
    """A book whose filterable fields are spelled out (the date is mid-year)."""
    return BookFactory(
        title=title, author=author, publication_date=datetime.date(year, 6, 15), summary=summary
    )


def plain_book(**fields: object) -> Book:
    """A book whose every text field is explicit, so no random word can match a search."""
    values: dict[str, object] = {
        "title": "Filler",
        "author": "Nobody",
        "publication_date": datetime.date(2000, 6, 15),
        "summary": "",
    }
    values.update(fields)
    book: Book = BookFactory.create(**values)
    return book
