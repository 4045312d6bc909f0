"""Token sign-in and sign-out for API clients.

POST a username and password to get a token; POST to the logout routes with the token to
revoke it, or every token of its user.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.status import HTTP_204_NO_CONTENT
from rest_framework.views import APIView

from core.authentication import TokenAuthentication
from core.parsers import JSONParser
from core.throttling import ScopedRateThrottle, client_address, sign_in_retry_after
from core.tokens import (
    auth_token_create,
    auth_token_revoke,
    auth_tokens_revoke_all,
    default_token_ttl,
)

_ISSUED_TOKEN = inline_serializer(
    "Token",
    {
        "token": serializers.CharField(
            help_text="Send it as `Authorization: Token <token>`. It is shown only this once."
        ),
        "expiry": serializers.DateTimeField(
            allow_null=True, help_text="When the token stops working; null: when revoked."
        ),
    },
)

_THROTTLED = OpenApiResponse(
    # The component the project's AutoSchema registers for every `{"detail": ...}` error.
    response={"$ref": "#/components/schemas/Error"},
    description=(
        "Too many sign-in attempts from this address, or too many failed ones for this "
        "username from anywhere; wait `Retry-After` seconds."
    ),
)


@method_decorator(never_cache, name="dispatch")  # a token must not sit in any cache
class ObtainTokenView(APIView):
    """Exchanges a username and password for a new token (JSON only, like the rest of the API).

    Each sign-in issues a token of its own, so signing out on one device leaves the others
    signed in. Failed sign-ins lock the username and the address for a while
    (core.authentication.SignInLockoutBackend): a locked attempt is a 429, right password or
    not, and the same for an account that does not exist.
    """

    parser_classes = (JSONParser,)
    # Signing in needs no prior credentials; a stale token header must not block it.
    authentication_classes = ()
    permission_classes = ()
    # Per client address and far tighter than other requests, so guessing passwords is slow.
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "auth"

    @extend_schema(
        request=AuthTokenSerializer,
        responses={200: _ISSUED_TOKEN, 429: _THROTTLED},  # Retry-After: core.schema
        auth=[],
        summary="Exchange a username and password for a new API token.",
    )
    def post(self, request: Request) -> Response:
        username = request.data.get("username") if isinstance(request.data, dict) else None
        if isinstance(username, str):
            wait = sign_in_retry_after(username=username, address=client_address(request))
            if wait is not None:
                raise Throttled(wait=wait)
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token, key = auth_token_create(user=user, ttl=default_token_ttl())
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        expiry = token.expiry and serializers.DateTimeField().to_representation(token.expiry)
        return Response({"token": key, "expiry": expiry})


class _TokenRevocationView(APIView):
    """Sign-out: needs the token itself; a browser session cannot sign a token out."""

    authentication_classes = (TokenAuthentication,)
    permission_classes = (IsAuthenticated,)
    parser_classes = (JSONParser,)

    def revoke(self, request: Request) -> None:
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        self.revoke(request)
        user_logged_out.send(sender=request.user.__class__, request=request, user=request.user)
        return Response(status=HTTP_204_NO_CONTENT)


@extend_schema(
    request=None,
    responses={204: None},
    summary="Revoke the token this request is sent with.",
    description="Other tokens of the same user keep working. Send no body.",
)
class RevokeTokenView(_TokenRevocationView):
    def revoke(self, request: Request) -> None:
        auth_token_revoke(token=request.auth)


@extend_schema(
    request=None,
    responses={204: None},
    summary="Revoke every token of the signed-in user, this one included.",
    description="Signs the user out everywhere, for instance after a token leaked. Send no body.",
)
class RevokeAllTokensView(_TokenRevocationView):
    def revoke(self, request: Request) -> None:
        auth_tokens_revoke_all(user=request.user)
