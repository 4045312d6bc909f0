"""The "production reference": the lecture's project as a careful first deployment runs it.

DEBUG off, PostgreSQL from DATABASE_URL with persistent connections (Django's deployment
checklist: without them every request pays a new connection, and the reference would be ~4x
slower than it need be), and DRF's PageNumberPagination (20 a page) so the list is not the
whole table. Everything else, the app code included, is the lecture's.
"""

import os
from typing import Any

import environ

from .settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
_database: dict[str, Any] = dict(environ.Env.db_url_config(os.environ["DATABASE_URL"]))
_database["CONN_MAX_AGE"] = 600
DATABASES = {"default": _database}
REST_FRAMEWORK = {
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
}
