from django.apps import AppConfig


class BooksConfig(AppConfig):
    """The catalogue: books, their rules, and the API over them."""

    name = "books"

    def ready(self) -> None:
        # SQLite's search functions, registered on every new connection.
        from books.search import sqlite  # noqa: F401
