"""The public lead endpoint: a customer's landing page reports the person who filled in its
form, with the referral code the visitor arrived with (PRODUCT.md "Referrals": "created by
the landing page's form").

``POST /r/<code>/lead`` with JSON (``Content-Type: application/json``) or form fields:

- ``email`` (required; ``referee_email`` is accepted too), ``name``, ``company``.

Answers (JSON): 201 ``{"ok": true, "message": …}`` when the lead is recorded (also when a
fraud rule flags it or it is a duplicate: the visitor is never told whether an address is
already known, so the endpoint reveals nothing about the workspace's people); 400 with
``error.fields`` for bad input; 404 for an unknown code; 409 ``referrals_closed`` for a
program that is not active or an advocate who left; 403 for a browser on another origin;
429 when one IP posts more than ``REFERRAL_LEAD_RATE`` leads a minute (10 by default).

Authenticated by the code, cross-origin, so CSRF-exempt. CORS: the browser's preflight
``OPTIONS`` and the ``POST`` get ``Access-Control-Allow-Origin`` only when ``Origin`` is
exactly the scheme and host (and port) of the program's landing URL; any other origin gets
no CORS header, and its POST is refused (403) rather than recorded. A request without an
``Origin`` (a server posting from the landing site's back end) is accepted.

The snippet for the landing page (also in templates/public/lead_snippet.txt), which reads
the ``ref`` query parameter that ``/r/<code>`` appends::

    <form id="signup">
      <input name="email" type="email" required> <input name="name"> <input name="company">
      <button>Sign up</button>
    </form>
    <script>
    document.getElementById("signup").addEventListener("submit", async (event) => {
      event.preventDefault();
      const ref = new URLSearchParams(location.search).get("ref")
        || sessionStorage.getItem("ref");
      if (!ref) return event.target.submit();
      sessionStorage.setItem("ref", ref);
      const fields = Object.fromEntries(new FormData(event.target));
      try {
        await fetch("https://ADVOCACY-HOST/r/" + encodeURIComponent(ref) + "/lead", {
          method: "POST", headers: {"Content-Type": "application/json"},
          body: JSON.stringify(fields),
        });
      } finally {
        event.target.submit();  // then the landing page's own sign-up
      }
    });
    </script>
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from advocacy.errors import DomainError
from advocacy.scoping import scopes_disabled, workspace_scope

from .clicks import client_ip, hash_ip
from .models import ReferralCode
from .services import create_referral

CODE = re.compile(r"^[0-9A-Za-z]{4,16}$")
DEFAULT_RATE = 10  # leads a minute per IP
MAX_BODY = 16_384
FIELDS = {"email": ("email", "referee_email"), "name": ("name", "referee_name"), "company": ("company", "referee_company")}


def _error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return JsonResponse({"error": body}, status=status)


def landing_origin(landing_url: str) -> str | None:
    """``scheme://host[:port]`` of the landing URL, lower-cased, or None."""
    try:
        parts = urlsplit(landing_url or "")
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _over_rate(request: HttpRequest) -> bool:
    """A fixed one-minute window per (hashed) IP in the cache; no IP is stored."""
    limit = getattr(settings, "REFERRAL_LEAD_RATE", DEFAULT_RATE)
    ip = hash_ip(client_ip(request.META))[:32]  # as the /r/ redirect reads and hashes it
    key = f"referrals:lead-rate:{ip}:{int(time.time() // 60)}"
    cache.add(key, 0, timeout=70)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=70)
        count = 1
    return count > limit


def _cors(response: HttpResponse, origin: str | None, allowed: str | None, *, preflight: bool = False) -> HttpResponse:
    response["Vary"] = "Origin"
    if origin and allowed and origin == allowed:
        response["Access-Control-Allow-Origin"] = origin
        if preflight:
            response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = "Content-Type"
            response["Access-Control-Max-Age"] = "86400"
    return response


def _find(code: str) -> ReferralCode | None:
    if not CODE.match(code or ""):
        return None
    with scopes_disabled():
        return ReferralCode.objects.select_related("program").filter(code=code.upper()).first()


def _fields(request: HttpRequest) -> dict[str, str] | JsonResponse:
    if (request.content_type or "").split(";")[0].strip() == "application/json":
        if len(request.body) > MAX_BODY:
            return _error(400, "too_large", "The request body is too large.")
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "malformed_json", "The request body is not valid JSON.")
        if not isinstance(data, dict):
            return _error(400, "validation_error", "Send a JSON object with email, name and company.")
    else:
        data = request.POST
    found: dict[str, str] = {}
    for name, keys in FIELDS.items():
        value = next((data.get(k) for k in keys if data.get(k) not in (None, "")), "")
        if not isinstance(value, str):
            return _error(400, "validation_error", "Check the fields listed in “fields”.", {name: ["Must be text."]})
        found[name] = value
    return found


@csrf_exempt
def lead(request: HttpRequest, code: str) -> HttpResponse:
    origin = request.headers.get("Origin")
    if request.method not in ("POST", "OPTIONS"):
        response = _error(405, "method_not_allowed", "POST the lead's email, name and company.")
        response["Allow"] = "POST, OPTIONS"
        return response
    referral_code = _find(code)
    allowed = landing_origin(referral_code.program.landing_url) if referral_code else None
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin, allowed, preflight=True)
    if _over_rate(request):
        response = _error(429, "rate_limited", "Too many requests; slow down and retry later.")
        response["Retry-After"] = "60"
        return _cors(response, origin, allowed)
    if referral_code is None:
        return _cors(_error(404, "not_found", "No such referral code."), origin, allowed)
    if origin is not None and origin != allowed:
        return _error(403, "origin_not_allowed", "This form is not on the program's landing page.")
    fields = _fields(request)
    if isinstance(fields, JsonResponse):
        return _cors(fields, origin, allowed)
    try:
        with workspace_scope(referral_code.workspace_id):
            create_referral(code=referral_code, referee_email=fields["email"], referee_name=fields["name"],
                            referee_company=fields["company"], source="form")
    except DomainError as exc:
        fields_map = {k.removeprefix("referee_"): v for k, v in exc.fields.items()} if exc.fields else None
        return _cors(_error(exc.status, exc.code, exc.message, fields_map), origin, allowed)
    return _cors(JsonResponse({"ok": True, "message": "Thanks! We'll be in touch."}, status=201), origin, allowed)
