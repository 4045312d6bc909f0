# How type checkers see the lecture's views.py (left unannotated, as written): the django-stubs
# plugin knows only the models of our own settings' apps, so it cannot see this Book's manager.
from rest_framework import viewsets

from .models import Book

class BookViewSet(viewsets.ModelViewSet[Book]): ...
