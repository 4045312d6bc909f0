"""Durable state of the cross-cutting HTTP concerns: the outcomes of idempotent requests."""

from django.conf import settings
from django.db import models
from django.utils import timezone

#: The longest Idempotency-Key a client may send (a UUID needs 36).
IDEMPOTENCY_KEY_MAX_LENGTH = 255


class IdempotencyRecord(models.Model):
    """The outcome of one request sent with an ``Idempotency-Key``, replayed to its retries.

    Written by ``core.idempotency`` in the same transaction as the request's own writes, so a
    row exists exactly when the request's effects were committed; other transactions never
    see one whose response is still missing. Rows older than IDEMPOTENCY_KEY_TTL_HOURS are
    ignored (and replaced by a new request with the same key) and deleted by
    ``manage.py purge_idempotency_keys``.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    method = models.CharField(max_length=16)
    path = models.TextField()
    request_fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 (hex) of the request body as canonical JSON."
    )
    # Null only inside the transaction that is still producing the response.
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True, help_text="The response's data as JSON.")
    response_headers = models.JSONField(
        default=dict, blank=True, help_text="Headers sent again with a replay (Location, ETag)."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}] -> {self.status_code}"
