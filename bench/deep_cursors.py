"""Write list URLs that open deep pages of our API: ``/books/?cursor=...``, one a line.

Run under our settings, with the SECRET_KEY and DATABASE_URL the server gets (the cursors are
signed with it):

    .venv/bin/python bench/deep_cursors.py OUTPUT --count 300 --seed 0

Each URL is the page after a book at a random position in the back half of the default
ordering, where an OFFSET-paginated list is slowest.
"""

import argparse
import os
import random
import sys
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
#: Deep pages a run reads (ours by cursor, the reference by page number).
DEEP_PAGES = 300


def deep_positions(total: int, count: int, seed: int) -> list[int]:
    """``count`` sorted positions (0-based, with duplicates when there are few rows) in the back
    half of ``total`` rows, each with a full page after it where there is room for one."""
    if total < 2:
        return [0] * min(count, total)
    low, high = total // 2, max(total // 2, total - 21)
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    return sorted(rng.randint(low, high) for _ in range(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--count", type=int, default=DEEP_PAGES)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookstore.settings")
    import django

    django.setup()
    from books.models import Book
    from books.pagination import BookCursorPagination, cursor_after

    ordering = BookCursorPagination.default_ordering
    field = ordering.lstrip("-")
    total = Book.objects.count()
    wanted = deep_positions(total, arguments.count, arguments.seed)
    books = (
        Book.objects.order_by(ordering, "-id" if ordering.startswith("-") else "id")
        .only("id", field)
        .iterator(chunk_size=10_000)
    )
    lines: list[str] = []
    remaining = iter(wanted)
    target = next(remaining, None)
    for position, book in enumerate(books):
        while target == position:
            lines.append(f"/books/?cursor={quote(cursor_after(book, ordering), safe='')}")
            target = next(remaining, None)
        if target is None:
            break
    arguments.output.write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} deep cursors of {total:,} books")


if __name__ == "__main__":
    main()
