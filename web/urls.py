"""The web app's pages: every path is the same HTML shell; the scripts route on the client."""

from django.urls import path, re_path

from web import views

urlpatterns = [
    path("app/", views.app, name="web-app"),
    # Deep links (bookmarks, a reload, a shared link) load the same shell.
    path("app/books/new/", views.app, name="web-book-new"),
    path("app/books/<int:book_id>/", views.app, name="web-book"),
    path("app/books/<int:book_id>/edit/", views.app, name="web-book-edit"),
    path("app/sign-in/", views.app, name="web-sign-in"),
    # Any other address under /app/ is the app's own "page not found" (a 404 with the shell,
    # whose router shows its not-found view), not the API's JSON 404. Only addresses ending in
    # a slash: without one, CommonMiddleware's APPEND_SLASH still redirects /app/books/7 to
    # /app/books/7/ first, which it would not do if this pattern matched it.
    re_path(r"^app/(?:.+/)?\Z", views.not_found, name="web-not-found"),
]
