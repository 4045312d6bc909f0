"""Settings for the test run: the production settings with what only tests need."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault(
    "SECRET_KEY", "test-run-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
)

from bookstore.settings import *

# The tests run as behind the shipped proxy for the scheme (the hot path's parity tests ask both
# paths about X-Forwarded-Proto); the default without a proxy (off) is tested by
# bookstore/tests/test_settings.py, in a process of its own.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Hashing passwords properly is slow on purpose; tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests render admin and docs pages without running collectstatic first: WhiteNoise serves
# straight from the apps' static folders.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = None  # type: ignore[assignment]
WHITENOISE_USE_FINDERS = True

# SQLite's shared in-memory test database fails concurrent writers at once instead of waiting
# for the lock, so the race tests would test the test setup. Use a file, one per test run.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"bookstore-test-{os.getpid()}.sqlite3")
    }
