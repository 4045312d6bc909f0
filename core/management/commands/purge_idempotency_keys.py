"""manage.py purge_idempotency_keys: delete the Idempotency-Key records past their TTL."""

from typing import Any

from django.core.management.base import BaseCommand

from core.idempotency import purge_expired_records


class Command(BaseCommand):
    help = (
        "Delete the stored outcomes of Idempotency-Key requests older than "
        "IDEMPOTENCY_KEY_TTL_HOURS (default 24). Expired records are never replayed, so this "
        "only keeps the table small; run it from cron, e.g. hourly."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = purge_expired_records()
        self.stdout.write(f"Deleted {deleted} expired idempotency record(s).")
