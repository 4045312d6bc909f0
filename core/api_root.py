"""The API root (`/`): the router's links to its resources, and every other address a client
starts from (the schema and its docs, the web page, sign-in, the export, health).

DRF's DefaultRouter lists only the resources registered on it; a client reading `/` should
not have to guess the rest. The router keeps building the root; this adds the links.
"""

from typing import Any

from django.urls import NoReverseMatch
from rest_framework import routers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

#: Each link the root adds after the router's own, as {key: URL name}, in the order shown.
LINKS = {
    "books_count": "book-count",
    "books_export": "book-export",
    "books_permissions": "book-permissions",
    "schema": "schema",
    "docs": "swagger-ui",
    "app": "web-app",
    "sign_in": "auth-token",
    "sign_out": "auth-logout",
    "sign_out_everywhere": "auth-logout-all",
    "health": "healthz",
    "ready": "readyz",
    "admin": "admin:index",
}


class APIRootView(routers.APIRootView):
    """The router's root view, with LINKS after the resources."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        for key, url_name in LINKS.items():
            try:
                response.data[key] = reverse(url_name, request=request)
            except NoReverseMatch:  # a URLconf without that page (a test's, a trimmed deploy)
                continue
        return response


class Router(routers.DefaultRouter):
    """DefaultRouter, whose root links to everything a client can use (APIRootView)."""

    APIRootView = APIRootView
