"""The web app's pages: every path is the same HTML shell; the scripts route on the client."""

from django.urls import path

from web import views

urlpatterns = [
    path("app/", views.app, name="web-app"),
    # Deep links (bookmarks, a reload, a shared link) load the same shell.
    path("app/books/new/", views.app, name="web-book-new"),
    path("app/books/<int:book_id>/", views.app, name="web-book"),
    path("app/books/<int:book_id>/edit/", views.app, name="web-book-edit"),
    path("app/sign-in/", views.app, name="web-sign-in"),
]
