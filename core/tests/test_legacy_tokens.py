"""The migration off DRF's plain-text tokens: each legacy key keeps working, as a knox token
stored as a digest, and the table holding the plain keys is dropped."""

import importlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from books.models import Book
from books.permissions import give_role
from books.tests.factories import book_payload

migration = importlib.import_module("core.migrations.0002_hash_legacy_api_tokens")

LEGACY_KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF's format: 40 hex digits


def _table_exists() -> bool:
    return migration.LEGACY_TABLE in connection.introspection.table_names()


@pytest.fixture
def legacy_table(transactional_db: None) -> Iterator[None]:
    """DRF's token table, as `rest_framework.authtoken` created it, with its migration record."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {migration.LEGACY_TABLE} "
            '("key" varchar(40) PRIMARY KEY, "created" timestamp NOT NULL, "user_id" integer)'
        )
    MigrationRecorder(connection).record_applied("authtoken", "0001_initial")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {migration.LEGACY_TABLE}")
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()


def _run_migration() -> None:
    with connection.schema_editor() as schema_editor:
        migration.hash_legacy_tokens(apps, schema_editor)


def _can_write(key: str) -> bool:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return bool(client.post("/books/", book_payload(), format="json").status_code == 201)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("legacy_table")
@override_settings(REST_KNOX={"TOKEN_TTL": timedelta(hours=3)})
def test_a_legacy_key_keeps_working_and_its_plain_copy_is_dropped() -> None:
    user = get_user_model().objects.create_user(username="script")
    give_role(user, "editor")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {migration.LEGACY_TABLE} VALUES (%s, %s, %s)",  # noqa: S608 - constant
            [LEGACY_KEY, timezone.now(), user.pk],
        )
    assert not _can_write(LEGACY_KEY)
    before = timezone.now()

    _run_migration()

    assert _can_write(LEGACY_KEY)
    assert Book.objects.count() == 1
    token = AuthToken.objects.get()
    assert token.user == user
    assert LEGACY_KEY not in (token.digest, token.token_key)
    assert token.expiry is not None
    assert before + timedelta(hours=3) <= token.expiry <= timezone.now() + timedelta(hours=3)
    assert not _table_exists()
    assert not MigrationRecorder(connection).migration_qs.filter(app="authtoken").exists()


@pytest.mark.django_db(transaction=True)
def test_a_database_without_legacy_tokens_is_left_as_it_is() -> None:
    assert not _table_exists()

    _run_migration()

    assert not AuthToken.objects.exists()
    assert not _table_exists()
