"""WSGI entry point, used by the production server.

Django's application, behind books.hot_path, which answers anonymous reads of books from the
shared cache without running Django (READ_CACHE_ENABLED).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookstore.settings")

django_application = get_wsgi_application()

from books.hot_path import CachedReads  # noqa: E402  (needs the settings configured above)

application = CachedReads(django_application)
