"""Error pages: HTML for people, the API's JSON error shape under /api/."""

from django.http import JsonResponse
from django.shortcuts import render

from .api.errors import error_body


def _answer(request, status: int, message: str, template: str):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(status, message), status=status)
    return render(request, template, {"message": message}, status=status)


def not_found(request, exception=None):
    return _answer(request, 404, "Not found.", "404.html")


def forbidden(request, exception=None):
    message = str(exception) if exception and str(exception) else "You are not allowed to do this."
    return _answer(request, 403, message, "403.html")


def bad_request(request, exception=None):
    return _answer(request, 400, "Bad request.", "400.html")


def server_error(request):
    return _answer(request, 500, "Something went wrong on our side; it has been logged.", "500.html")
