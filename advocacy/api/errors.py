"""One JSON error shape for every API answer that is not a success:

    {"error": {"code": "validation_error", "message": "…", "fields": {"email": ["…"]}}}

400 invalid input, 401 missing or bad key, 403 not allowed, 404 absent or another
workspace's, 405, 409 state conflict, 415, 429 rate limited. Domain errors raised by
services are translated here, so views don't catch them one by one.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import DomainError

CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_body(status_code: int, message: str, *, code: str | None = None, fields: dict | None = None, **extra: Any) -> dict:
    body: dict[str, Any] = {"code": code or CODES.get(status_code, "error"), "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return {"error": body}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(d, dict | list) for d in detail):
            return [str(d) for d in detail]
        return [_flatten(d) for d in detail]
    return [str(detail)]


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        extra = {"items": exc.items} if getattr(exc, "items", None) else {}
        return Response(error_body(exc.status, exc.message, code=exc.code, fields=exc.fields or None, **extra), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = _flatten(detail)
            non_field = fields.pop("non_field_errors", None)
            message = non_field[0] if non_field else "Check the fields listed in “fields”."
            body = error_body(400, message, code="validation_error", fields=fields or None)
        else:
            messages = _flatten(detail)
            body = error_body(400, messages[0] if messages else "Invalid input.", code="validation_error")
    elif isinstance(exc, exceptions.ParseError):
        body = error_body(400, f"The request body is not valid JSON: {exc.detail}", code="malformed_json")
    elif isinstance(exc, exceptions.Throttled):
        body = error_body(429, "Too many requests; slow down and retry later.", retry_after=exc.wait)
    else:
        detail = getattr(exc, "detail", "")
        message = str(detail) if not isinstance(detail, dict | list) else "Request failed."
        err_code = getattr(detail, "code", None)
        if response.status_code == 401:
            err_code = "not_authenticated" if isinstance(exc, exceptions.NotAuthenticated) else "invalid_api_key"
        body = error_body(response.status_code, message, code=err_code if err_code and err_code not in ("invalid", "error") else code)
    response.data = body
    return response


def json_error_view(status_code: int, message: str):
    # CSRF-exempt: the API has no cookies to protect; without this a POST/PATCH/DELETE to an
    # unknown /api/ path answered Django's 403 CSRF page (HTML) instead of this JSON.
    @csrf_exempt
    def view(request, exception=None, *args, **kwargs):
        return JsonResponse(error_body(status_code, message), status=status_code)

    return view


api_not_found = json_error_view(status.HTTP_404_NOT_FOUND, "Not found.")
api_server_error = json_error_view(500, "Something went wrong on our side; it has been logged.")
