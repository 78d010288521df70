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


def reject_nul(**texts: str | None) -> None:
    """Free text never holds NUL characters (Postgres refuses them): a 400 naming the
    fields, never a 500."""
    bad = [field for field, value in texts.items() if "\x00" in (value or "")]
    if bad:
        raise ValidationFailed("Remove the NUL characters from the text.", fields={f: ["Contains NUL characters."] for f in bad})


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
