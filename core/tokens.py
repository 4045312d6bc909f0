"""API tokens: issued on sign-in (or by create_api_user), revoked on sign-out or by limit.

django-rest-knox stores a digest of each key, never the key, so the key a service returns is
the only copy there will ever be: hand it to the client and forget it.
"""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings


def default_token_ttl() -> timedelta | None:
    """How long a new token lives (REST_KNOX["TOKEN_TTL"]); None: until it is revoked."""
    ttl: timedelta | None = knox_settings.TOKEN_TTL
    return ttl


@transaction.atomic
def auth_token_create(*, user: Any, ttl: timedelta | None) -> tuple[AuthToken, str]:
    """Issues a new token for ``user`` living ``ttl`` (None: until revoked).

    Returns the stored token and its key. The user's expired tokens are deleted, and past
    REST_KNOX["TOKEN_LIMIT_PER_USER"] live tokens the oldest are revoked: signing in on one
    more device always works, and forgotten tokens do not pile up.
    """
    tokens = AuthToken.objects.filter(user=user)
    tokens.filter(expiry__lte=timezone.now()).delete()
    token, key = AuthToken.objects.create(user=user, expiry=ttl)
    limit: int | None = knox_settings.TOKEN_LIMIT_PER_USER
    if limit is not None:
        oldest = tokens.exclude(pk=token.pk).order_by("-created", "-pk")[max(limit - 1, 0) :]
        AuthToken.objects.filter(pk__in=list(oldest.values_list("pk", flat=True))).delete()
    return token, key


def auth_token_revoke(*, token: AuthToken) -> None:
    """Revokes one token: its key is refused from now on."""
    token.delete()


def auth_tokens_revoke_all(*, user: Any, keep: AuthToken | None = None) -> int:
    """Revokes every token of ``user`` (but ``keep``, if given); returns how many."""
    tokens = AuthToken.objects.filter(user=user)
    if keep is not None:
        tokens = tokens.exclude(pk=keep.pk)
    deleted, _ = tokens.delete()
    return deleted
