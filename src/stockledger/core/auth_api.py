from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken


class ObtainToken(ObtainAuthToken):
    """POST {username, password} -> {token}."""

    @extend_schema(responses=inline_serializer("TokenResponse", {"token": serializers.CharField()}))
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
