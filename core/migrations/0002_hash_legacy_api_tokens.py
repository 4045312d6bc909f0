"""Moves API tokens of DRF's authtoken app (plain-text keys) to knox (digests only).

Each legacy key keeps working, as a knox token expiring after the configured TOKEN_TTL; then
the legacy table, the last copy of the plain keys, is dropped.
"""

from typing import Any

from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings

LEGACY_TABLE = "authtoken_token"


def hash_legacy_tokens(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return  # a database that never had DRF's tokens
    auth_token = apps.get_model("knox", "AuthToken")
    ttl = knox_settings.TOKEN_TTL
    expiry = timezone.now() + ttl if ttl is not None else None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name('key')}, user_id FROM {LEGACY_TABLE}")  # noqa: S608 - constant names
        rows = cursor.fetchall()
    auth_token.objects.bulk_create(
        auth_token(
            digest=hash_token(key),
            token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH],
            user_id=user_id,
            expiry=expiry,
        )
        for key, user_id in rows
    )
    schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(LEGACY_TABLE)}")
    # The authtoken app is gone from INSTALLED_APPS: forget that its tables were made.
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial"), ("knox", "0009_extend_authtoken_field")]

    operations = [
        # Irreversible in substance (the plain keys are gone), harmless to unapply.
        migrations.RunPython(hash_legacy_tokens, migrations.RunPython.noop),
    ]
