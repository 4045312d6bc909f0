"""Token sign-in for API clients: POST a username and password, get a token."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken

from core.parsers import JSONParser


class ObtainTokenView(ObtainAuthToken):
    """DRF's token view, taking JSON only like the rest of the API."""

    parser_classes = (JSONParser,)
    # Signing in needs no prior credentials; a stale token header must not block it.
    authentication_classes = ()

    @extend_schema(
        request=AuthTokenSerializer,
        responses={200: inline_serializer("Token", {"token": serializers.CharField()})},
        auth=[],
        summary="Exchange a username and password for an API token.",
    )
    def post(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super().post(request, *args, **kwargs)
