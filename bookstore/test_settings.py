"""Settings for the test run: the production settings with what only tests need."""

import os

os.environ.setdefault("SECRET_KEY", "insecure-test-only-key")

from bookstore.settings import *

# Hashing passwords properly is slow on purpose; tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests render admin and docs pages without running collectstatic first.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
