"""Bearer API keys: each key belongs to one workspace, which every request is scoped to."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from ..models import ApiKey
from ..services.workspaces import authenticate_api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise exceptions.AuthenticationFailed("Use the header “Authorization: Bearer <api key>”.")
        key = authenticate_api_key(parts[1])
        if key is None:
            raise exceptions.AuthenticationFailed("This API key is not valid or was revoked.")
        return (None, key)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class HasWorkspaceApiKey(permissions.BasePermission):
    message = "Authenticate with “Authorization: Bearer <api key>”."

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            raise exceptions.NotAuthenticated(self.message)
        return True


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            return f"throttle_api_key_{request.auth.pk}"
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiKeySchemeExtension(OpenApiAuthenticationExtension):
    target_class = "advocacy.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A workspace API key."}
