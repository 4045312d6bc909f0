"""Token authentication for the API: django-rest-knox's, which stores only a digest of each key."""

import binascii
from hmac import compare_digest
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions


class TokenAuthentication(auth.TokenAuthentication):
    """`Authorization: Token <key>`, checked against knox's hashed tokens.

    Knox's own check, with two changes. Knox decodes the key as UTF-8 unguarded, so a header
    with other bytes would be a 500; it is a 401 here, with DRF's message for it. And knox
    loads every other token of the user on each request to delete the expired ones (a second
    query on every authenticated request, ~30 % of a write's time with the first, by the
    profile in docs/performance.md); here only the presented token is checked, and forgotten if
    it has expired. The user's other expired tokens are deleted when they next sign in
    (core.tokens.auth_token_create).
    """

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        message = _("Invalid token.")
        try:
            key = token.decode()
        except UnicodeError as error:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header. Token string should not contain invalid characters.")
            ) from error
        candidates = AuthToken.objects.filter(token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH])
        for auth_token in candidates.select_related("user"):
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                auth_token.delete()
                continue
            try:
                digest = hash_token(key)
            except (TypeError, binascii.Error) as error:
                raise exceptions.AuthenticationFailed(message) from error
            if compare_digest(digest, auth_token.digest):
                return self.validate_user(auth_token)  # type: ignore[no-any-return]
        raise exceptions.AuthenticationFailed(message)


class TokenAuthenticationScheme(KnoxTokenScheme):
    """Documents the scheme in OpenAPI under the name it had with DRF's tokens."""

    target_class = "core.authentication.TokenAuthentication"
    name = "tokenAuth"
