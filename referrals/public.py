"""``/r/<code>``: the referral link, the hottest path of the product (PRODUCT.md
"Referrals", "Scale and performance").

One cached lookup (``resolve_code``), one buffer append (``record_click``), a 302. The
view reads nothing else: no session, no user (``request.user`` is never touched, so the
middleware's lazy objects stay unevaluated and a cache hit runs no query at all), no
template on the happy path.

- Attributed (active program, advocate active or paused): 302 to the landing URL with
  ``?ref=<code>`` and a first-party cookie ``ref=<code>`` that lasts the attribution
  window (HttpOnly, SameSite=Lax, Secure when the site's cookies are). The latest link
  followed is in the cookie; which referral gets the credit (first touch) is decided when
  the lead or conversion arrives, not here.
- Not attributed (paused, draft or archived program; departed advocate): 302 to the bare
  landing URL, no ``ref`` and no cookie. The click is still recorded, as not attributed.
- Unknown or malformed code, or a program with no landing URL yet: a friendly 404 page.

Only GET and HEAD are answered; a HEAD (link previews, uptime checks) is not a click.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render

from .clicks import client_ip, record_click
from .redirect import resolve_code

log = logging.getLogger(__name__)

COOKIE_NAME = "ref"


def referral_redirect(request, code: str):
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    target = resolve_code(code)
    if target is None:
        return render(request, "public/referral_not_found.html", status=404)
    if request.method == "GET":
        meta = request.META
        try:
            record_click(target, ip=client_ip(meta), user_agent=meta.get("HTTP_USER_AGENT", ""),
                         referer=meta.get("HTTP_REFERER", ""), deferred=True)
        except Exception:  # the visitor still gets where they were going
            log.exception("could not record a click on %s", target.code)
    # The 302 built by hand: the location was checked (http/https) when the target was
    # cached, and one pre-formatted Set-Cookie costs less than the cookie machinery.
    response = HttpResponse(status=302, headers={"Location": target.location, "Cache-Control": "no-store"})
    if target.attributed:
        response["Set-Cookie"] = (
            f"{COOKIE_NAME}={target.code}; Max-Age={target.window_days * 86400}; Path=/; HttpOnly; SameSite=Lax"
            + ("; Secure" if settings.SESSION_COOKIE_SECURE else "")
        )
    return response
