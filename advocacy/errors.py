"""Domain errors. Services raise them; each front door turns them into its own answer
(a form message in the pages, JSON with a status code in the API)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the product refused the request. ``code`` is machine-readable."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class ValidationFailed(DomainError):
    status = 400
    code = "validation_error"


class Conflict(DomainError):
    """The request conflicts with the current state (duplicate, wrong state, limit)."""

    status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
