"""Token authentication for the API (django-rest-knox's, which stores only a digest of each
key), and the lockout every password sign-in passes through."""

import binascii
from hmac import compare_digest
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.request import Request

from core.throttling import (
    TOKEN_FAILURES_PER_ADDRESS,
    client_address,
    count_sign_in_failure,
    sign_in_retry_after,
)


class TokenAuthentication(auth.TokenAuthentication):
    """`Authorization: Token <key>`, checked against knox's hashed tokens.

    Knox's own check, with two changes. Knox decodes the key as UTF-8 unguarded, so a header
    with other bytes would be a 500; it is a 401 here, with DRF's message for it. And knox
    loads every other token of the user on each request to delete the expired ones (a second
    query on every authenticated request, ~30 % of a write's time with the first, by the
    profile in docs/performance.md); here only the presented token is checked, and forgotten if
    it has expired. The user's other expired tokens are deleted when they next sign in
    (core.tokens.auth_token_create).

    Refused tokens are counted per client address (TOKEN_FAILURE_LIMIT per
    TOKEN_FAILURE_WINDOW_SECONDS): past the limit the address gets 429 before its next token
    costs a query, so keys cannot be tried at the rate of requests.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        address = client_address(request)
        wait = TOKEN_FAILURES_PER_ADDRESS.retry_after(address)
        if wait is not None and get_authorization_header(request):
            raise exceptions.Throttled(wait=wait)
        try:
            return super().authenticate(request)  # type: ignore[no-any-return]
        except exceptions.AuthenticationFailed:
            TOKEN_FAILURES_PER_ADDRESS.count_failure(address)
            raise

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


class SignInLockoutBackend:
    """First in AUTHENTICATION_BACKENDS: refuses every password sign-in (the API's, the
    admin's) for an account or from an address past its failure limit, before any backend
    hashes the password. Django then stops at this backend and reports a failed sign-in, the
    same answer a wrong password gets, so a lock does not tell whether a password was right.

    Not a BaseBackend: with no get_user it never holds a session (force_login skips it)."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, **credentials: Any
    ) -> None:
        if (
            request is not None
            and isinstance(username, str)
            and sign_in_retry_after(username=username, address=client_address(request))
        ):
            raise PermissionDenied
        return None


def count_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """user_login_failed: a failed password sign-in counts against its account and address."""
    username = credentials.get(get_user_model().USERNAME_FIELD)
    if request is not None and isinstance(username, str):
        count_sign_in_failure(username=username, address=client_address(request))


class PermissionsBackend(ModelBackend):
    """Django's ModelBackend, reading a user's permissions in one query instead of two.

    ModelBackend asks for the user's own permissions and for their groups' separately; every
    API write checks a book permission on a user the token lookup has just loaded, so that was
    two of a create's four SQL statements (docs/performance.md, "What a request does").
    Superusers and inactive users keep ModelBackend's rules (all permissions, none).
    """

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            granted = (
                Permission.objects.filter(Q(user=user_obj) | Q(group__user=user_obj))
                .values_list("content_type__app_label", "codename")
                .distinct()
            )
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in granted}
        return set(user_obj._perm_cache)
