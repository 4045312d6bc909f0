"""The store's web page: one HTML shell; its scripts use only the public API."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def app(request: HttpRequest, **route: Any) -> HttpResponse:
    # The route's parts (a book id) are read by the scripts from the URL, not here: the shell
    # is the same for every page, so it never needs the database.
    return render(request, "web/app.html")


@require_safe
def not_found(request: HttpRequest) -> HttpResponse:
    # The same shell with a 404: the client's router finds no route for the address and shows
    # the app's own "Page not found", so the reader keeps the header and a way back.
    return render(request, "web/app.html", status=404)
