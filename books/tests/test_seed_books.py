"""manage.py seed_books N [--seed S], and the reproducible demo books behind it."""

import datetime
import io
import re
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from stdnum import isbn as stdnum_isbn

from books import services
from books.demo import demo_books
from books.management.commands.seed_books import REAL_CATALOGUE
from books.models import Book

FIRST_DATE = datetime.date(1945, 1, 1)
LAST_DATE = datetime.date(2025, 12, 31)
DEMO_FIELDS = ("title", "author", "publication_date", "isbn", "summary")


def seed(*args: str, verbosity: int = 1) -> str:
    out = io.StringIO()
    call_command("seed_books", *args, verbosity=verbosity, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def assert_report(output: str, added: int, present: int) -> None:
    pattern = rf"Added {added} books \({present} were already there\) in \d+\.\d s\.\n"
    assert re.fullmatch(pattern, output), output


def stored_isbns() -> list[str]:
    return list(Book.objects.values_list("isbn", flat=True))


@pytest.fixture
def bulk_create_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the command hands to services.book_bulk_create."""
    sizes: list[int] = []
    real = services.book_bulk_create

    def recording(*, items: list[dict[str, Any]]) -> list[Book]:
        sizes.append(len(items))
        return real(items=items)

    monkeypatch.setattr(services, "book_bulk_create", recording)
    return sizes


# --- The command --------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_books_of_more_than_a_batch_adds_that_many_valid_unique_isbns(bulk_create_calls):
    output = seed("2300")

    assert_report(output, added=2300, present=0)
    isbns = stored_isbns()
    assert len(isbns) == len(set(isbns)) == 2300
    assert all(stdnum_isbn.is_valid(isbn) and len(isbn) == 13 for isbn in isbns)
    # Through the one write path, a thousand books at a time.
    assert bulk_create_calls == [1000, 1000, 300]


@pytest.mark.django_db
def test_seed_books_stores_exactly_the_demo_books_of_its_seed():
    seed("40", "--seed", "3")

    stored = sorted(Book.objects.values(*DEMO_FIELDS), key=lambda book: book["isbn"])
    expected = sorted(demo_books(40, seed=3), key=lambda book: book["isbn"])
    assert stored == expected


@pytest.mark.django_db
def test_seed_books_run_again_adds_nothing(bulk_create_calls):
    seed("2300", "--seed", "2")
    before = list(Book.objects.order_by("pk").values())
    bulk_create_calls.clear()

    output = seed("2300", "--seed", "2")

    assert_report(output, added=0, present=2300)
    assert list(Book.objects.order_by("pk").values()) == before
    assert bulk_create_calls == []


@pytest.mark.django_db
def test_seed_books_with_a_larger_count_adds_only_the_missing_books(bulk_create_calls):
    seed("1500")
    first = set(stored_isbns())
    bulk_create_calls.clear()

    output = seed("2300")

    assert_report(output, added=800, present=1500)
    assert first < set(stored_isbns())
    assert Book.objects.count() == 2300
    assert bulk_create_calls == [500, 300]


@pytest.mark.django_db
@pytest.mark.parametrize(("first_seed", "second_seed"), [("1", "2"), ("0", "99")])
def test_seed_books_with_another_seed_adds_other_books(first_seed, second_seed):
    seed("30", "--seed", first_seed)
    first = set(stored_isbns())

    output = seed("30", "--seed", second_seed)

    assert_report(output, added=30, present=0)
    assert Book.objects.count() == 60
    assert len(set(stored_isbns()) - first) == 30


@pytest.mark.django_db
def test_seed_books_of_zero_adds_nothing():
    assert_report(seed("0"), added=0, present=0)
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_seed_books_with_a_negative_count_fails_storing_nothing():
    with pytest.raises(CommandError, match="0 or more"):
        seed("-5")

    assert Book.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("bad_seed", ["-1", "100"])
def test_seed_books_refuses_a_seed_outside_0_to_99_storing_nothing(bad_seed):
    """Seeds own disjoint ISBN ranges only within 0..99; outside it they would overlap."""
    with pytest.raises(CommandError, match="seed must be from 0 to 99"):
        seed("5", "--seed", bad_seed)

    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_seed_books_reports_progress_per_batch_when_verbose():
    output = seed("2300", verbosity=2)

    lines = output.splitlines()
    assert lines[:3] == ["  1000/2300", "  2000/2300", "  2300/2300"]
    assert_report("\n".join(lines[3:]) + "\n", added=2300, present=0)


# --- The demo books -----------------------------------------------------------------------


def test_demo_books_of_one_seed_are_always_the_same():
    assert list(demo_books(200, seed=4)) == list(demo_books(200, seed=4))


@pytest.mark.parametrize(("first", "second"), [(0, 1), (4, 5), (0, 99)])
def test_demo_books_of_different_seeds_share_no_isbn(first, second):
    first_books = list(demo_books(100, seed=first))
    second_books = list(demo_books(100, seed=second))

    assert first_books != second_books
    assert not {book["isbn"] for book in first_books} & {book["isbn"] for book in second_books}


@pytest.mark.parametrize("seed_value", [0, 6])
def test_demo_books_have_dates_in_range_and_unique_valid_isbns(seed_value):
    books = list(demo_books(5000, seed=seed_value))

    dates = [book["publication_date"] for book in books]
    assert all(isinstance(date, datetime.date) for date in dates)
    assert min(dates) >= FIRST_DATE
    assert max(dates) <= LAST_DATE
    # Spread over the whole range, not bunched at one end.
    assert min(dates) < datetime.date(1950, 1, 1)
    assert max(dates) > datetime.date(2020, 12, 31)
    isbns = [book["isbn"] for book in books]
    assert len(set(isbns)) == len(isbns)
    assert all(stdnum_isbn.is_valid(isbn) and len(isbn) == 13 for isbn in isbns)
    assert all(set(book) == set(DEMO_FIELDS) for book in books)


# --- The real demo catalogue (make run) -------------------------------------------------------


@pytest.mark.django_db
def test_seed_books_real_adds_the_real_catalogue_once_and_keeps_edits():
    first = seed("--real")
    total = Book.objects.count()
    dune = Book.objects.get(isbn="9780340839935")
    Book.objects.filter(pk=dune.pk).update(summary="Edited by a reader.")

    second = seed("--real")

    assert total == 387
    assert_report(first, added=387, present=0)
    assert_report(second, added=0, present=387)
    assert Book.objects.get(pk=dune.pk).summary == "Edited by a reader."


@pytest.mark.django_db
def test_seed_books_real_marks_its_year_only_dates_as_years(auth_client):
    seed("--real")

    dune = Book.objects.get(isbn="9780340839935")
    shown = auth_client.get(f"/books/{dune.pk}/").json()

    assert set(Book.objects.values_list("publication_date_precision", flat=True)) == {"year"}
    assert not Book.objects.exclude(publication_date__month=1, publication_date__day=1).exists()
    assert (shown["publication_date"], shown["publication_date_precision"]) == (
        "1965-01-01",
        "year",
    )


@pytest.mark.django_db
def test_import_of_the_demo_catalogue_marks_the_same_dates_as_years():
    call_command(
        "import_books", str(REAL_CATALOGUE), "--no-progress", stdout=io.StringIO(),
        stderr=io.StringIO(),
    )  # fmt: skip

    assert Book.objects.count() == 387
    assert set(Book.objects.values_list("publication_date_precision", flat=True)) == {"year"}


@pytest.mark.django_db
def test_seed_books_wants_a_count_or_real_not_both():
    for args in ((), ("5", "--real")):
        with pytest.raises(CommandError):
            seed(*args)
