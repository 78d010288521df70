"""The personal answer link of a survey send: ``/s/<token>``. The token is the send's id,
signed with the site's secret (HMAC, salted for this use): nothing to store, nothing to
look up before the signature is checked, so a forged or mangled token costs no query."""

from __future__ import annotations

from django.core import signing

_SIGNER = signing.Signer(salt="nps.survey-send", sep=".")
MAX_TOKEN_LENGTH = 80


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def make_token(send_id: int) -> str:
    return _SIGNER.sign(_b36(send_id))


def read_token(token: str) -> int | None:
    """The send id in a genuine token, or None for anything else (never raises)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    try:
        value = _SIGNER.unsign(token)
    except signing.BadSignature:
        return None
    if not value or not value.isalnum() or len(value) > 12:
        return None
    try:
        return int(value, 36)
    except ValueError:
        return None
