"""What the programs' page tests share: a manager URL of a tenant, a page's visible text,
its POST forms, and a row read afresh."""

from __future__ import annotations

import re
from html import unescape

from django.urls import reverse

from advocacy.scoping import scopes_disabled


def url(name, tenant, *args):
    return reverse(name, args=[tenant.workspace.slug, *args])


def text(response) -> str:
    """The page's visible text, tags dropped and spaces collapsed."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def post_forms(response) -> list[str]:
    """The POST forms of a page but the sign-out button every page has."""
    forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>", response.content.decode())
    return [f for f in forms if "/accounts/logout/" not in f]


def reload(obj):
    with scopes_disabled():
        return type(obj).objects.get(pk=obj.pk)
