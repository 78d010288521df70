"""What ``/r/<code>`` needs to answer, looked up once and cached (PRODUCT.md "Referrals",
ARCHITECTURE.md habit 8: hot public paths do almost nothing).

``resolve_code(code)`` returns a ``Target`` (where to send the visitor, whether the click
is attributed, the cookie's lifetime, the ids a click row needs) or ``None`` for a code
that answers 404. It is cached in two layers: this process's memory for a few seconds
(``REFERRAL_LOCAL_CACHE_SECONDS``, 5 by default: a hot code then costs a dict lookup, no
round trip at all), and Django's cache under the code (Redis in production and tests, the
in-process cache in the demo) for ``REFERRAL_CODE_CACHE_SECONDS``. A hit in either runs
no query.

The rules, decided here once per code and cached with it:

- a code that is not well formed (4 to 16 ASCII letters and digits; lower case is accepted
  and upper-cased) is unknown without a cache or database read, so garbage in the URL
  (long, non-ASCII, SQL-like, percent-encoded) costs nothing and cannot fill the cache;
- an unknown code, and the code of a program without a landing URL (there is nowhere to
  send the visitor; the manager has not finished setting the program up), answer 404; both
  are cached for a shorter time (``REFERRAL_MISSING_CACHE_SECONDS``);
- attributed (``?ref=<code>`` and the cookie): the program is active and the advocate is
  active or paused (a paused advocate asked for a rest from asks, not to stop referring).
  A draft, paused or archived program, or a departed advocate (opted out, alumni, erased;
  also one who never joined: candidate or invited) still redirects, without attribution;
- the cookie lasts the program's attribution window, or the workspace's when the program
  sets none (1 to 365 days).

The shared cache lives ``REFERRAL_CODE_CACHE_SECONDS`` (60 s by default): a status change
shows within that time even if nobody calls ``forget_code``. Code that changes a program's
status or landing URL, or an advocate's stage, calls ``forget_program_codes`` /
``forget_advocate_codes`` (or ``forget_code`` for one code) after its commit: the shared
entry is dropped at once, this process's copy too, and other processes' copies expire
within ``REFERRAL_LOCAL_CACHE_SECONDS``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

# Generated codes use CODE_ALPHABET; the check is looser (ASCII letters and digits, 4 to 16)
# so a hand-made code still works, while anything else never reaches the cache or database.
CODE_PATTERN = re.compile("[0-9A-Z]{4,16}")
CACHE_PREFIX = "referrals:code:"
_MISSING = 0  # cached for an unknown code (a tuple is cached for a known one)
LOCAL_MAX = 10_000
_local: dict[str, tuple[float, Target | None]] = {}  # code -> (expires at, target): this process's layer


@dataclass(frozen=True, slots=True)
class Target:
    code: str
    code_id: int
    workspace_id: int
    location: str  # the landing URL, with ?ref=<code> when attributed
    attributed: bool
    window_days: int


def normalize_code(code: str) -> str | None:
    """The code in its canonical (upper-case) form, or None when it cannot be a code."""
    if not isinstance(code, str) or len(code) > 16:
        return None
    code = code.upper()
    return code if CODE_PATTERN.fullmatch(code) else None


def _cache_seconds() -> int:
    return getattr(settings, "REFERRAL_CODE_CACHE_SECONDS", 60)


def _local_cache_seconds() -> float:
    return getattr(settings, "REFERRAL_LOCAL_CACHE_SECONDS", 5)


def _missing_cache_seconds() -> int:
    return getattr(settings, "REFERRAL_MISSING_CACHE_SECONDS", 30)


def resolve_code(code: str) -> Target | None:
    """The redirect target of ``code``, or None (404).

    Two layers: this process's memory (``REFERRAL_LOCAL_CACHE_SECONDS``, 5 s by default,
    at most ``LOCAL_MAX`` codes), then Django's cache. A hot code costs a dict lookup; a
    code new to this process one cache read; a code new to the cache one query and one
    cache write. A cache that is down is read through to the database."""
    code = normalize_code(code)
    if code is None:
        return None
    now = time.monotonic()
    local = _local.get(code)
    if local is not None and local[0] > now:
        return local[1]
    target = _shared(code)
    seconds = _local_cache_seconds()
    if seconds > 0:
        if len(_local) >= LOCAL_MAX:
            _local.clear()
        _local[code] = (now + seconds, target)
    return target


def _shared(code: str) -> Target | None:
    key = CACHE_PREFIX + code
    try:
        cached = cache.get(key)
    except Exception:  # the cache server is down: answer from the database
        log.warning("referral code cache unavailable; reading %s from the database", code, exc_info=True)
        cached = None
    if cached is not None:
        return Target(code, *cached) if cached != _MISSING else None
    target = _load(code)
    try:
        if target is None:
            cache.set(key, _MISSING, _missing_cache_seconds())
        else:
            cache.set(key, (target.code_id, target.workspace_id, target.location, target.attributed, target.window_days),
                      _cache_seconds())
    except Exception:
        log.warning("referral code cache unavailable; %s not cached", code, exc_info=True)
    return target


def clear_local_cache() -> None:
    """Forget every code this process remembers (tests; the shared cache is untouched)."""
    _local.clear()


def forget_code(code: str) -> None:
    """Drop ``code``'s cached target (after a change to its program or advocate)."""
    code = normalize_code(code)
    if code is not None:
        _local.pop(code, None)
        cache.delete(CACHE_PREFIX + code)


def forget_codes(codes: Iterable[str]) -> None:
    """Drop the cached targets of ``codes`` (in chunks of 1,000 keys)."""
    codes = [c for c in (normalize_code(code) for code in codes) if c]
    for code in codes:
        _local.pop(code, None)
    keys = [CACHE_PREFIX + c for c in codes]
    for start in range(0, len(keys), 1000):
        cache.delete_many(keys[start:start + 1000])


def forget_program_codes(program) -> None:
    """Drop the cached targets of every code of ``program`` (its status or landing URL
    changed). One query for the codes, one cache call."""
    from .models import ReferralCode

    forget_codes(ReferralCode.objects.with_scopes_disabled().filter(program_id=program.pk).values_list("code", flat=True))


def forget_advocate_codes(advocate) -> None:
    """Drop the cached targets of every code of ``advocate`` (their stage changed)."""
    from .models import ReferralCode

    forget_codes(ReferralCode.objects.with_scopes_disabled().filter(advocate_id=advocate.pk).values_list("code", flat=True))


def _load(code: str) -> Target | None:
    from advocacy.models import Stage
    from programs.models import ProgramStatus

    from .models import ReferralCode

    row = (
        ReferralCode.objects.with_scopes_disabled()
        .filter(code=code)
        .values(
            "id", "workspace_id", "program__landing_url", "program__status", "advocate__stage", "advocate__erased_at",
            "program__referral_settings__attribution_window_days", "workspace__attribution_window_days",
        )
        .first()
    )
    if row is None:
        return None
    landing = safe_landing_url(row["program__landing_url"])
    if landing is None:
        return None
    attributed = (
        row["program__status"] == ProgramStatus.ACTIVE
        and row["advocate__stage"] in (Stage.ACTIVE, Stage.PAUSED)
        and row["advocate__erased_at"] is None
    )
    window = row["program__referral_settings__attribution_window_days"] or row["workspace__attribution_window_days"] or 90
    window = min(max(int(window), 1), 365)
    return Target(
        code=code,
        code_id=row["id"],
        workspace_id=row["workspace_id"],
        location=with_ref(landing, code) if attributed else landing,
        attributed=attributed,
        window_days=window,
    )


def safe_landing_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL with a host, else None."""
    url = (url or "").strip()
    if not url or any(c in url for c in "\r\n\x00"):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def with_ref(url: str, code: str) -> str:
    """``url`` with ``ref=<code>`` in its query string: the landing URL's own parameters
    are kept as they are (order and encoding), a ``ref`` it already carries is replaced,
    and the fragment stays last."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and unquote(p.split("=", 1)[0]) != "ref"]
    kept.append(f"ref={code}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "&".join(kept), parts.fragment))
