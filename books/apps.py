from django.apps import AppConfig


class BooksConfig(AppConfig):
    """The catalogue: books, their rules, and the API over them."""

    name = "books"
