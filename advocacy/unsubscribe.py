"""One-click unsubscribe for every advocate email (PRODUCT.md "Notifications").

Each advocate email carries a personal signed link and the ``List-Unsubscribe`` /
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` headers (RFC 8058): a mail client's
unsubscribe button POSTs to the link and the email channel is removed at once. Opening the
link in a browser shows one button, so a mail scanner that follows links cannot
unsubscribe anybody by merely fetching the page. The link never expires.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from .audit import log_action
from .models import Advocate, Channel
from .scoping import scopes_disabled

SALT = "advocacy.unsubscribe"


def unsubscribe_token(advocate: Advocate) -> str:
    return signing.dumps([advocate.workspace_id, advocate.pk], salt=SALT, compress=True)


def unsubscribe_url(advocate: Advocate) -> str:
    return settings.SITE_URL + reverse("unsubscribe", args=[unsubscribe_token(advocate)])


def unsubscribe_headers(advocate: Advocate) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{unsubscribe_url(advocate)}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def advocate_for_token(token: str) -> Advocate | None:
    """The advocate a link was made for, or None for a bad or tampered token."""
    if not token or len(token) > 300:
        return None
    try:
        workspace_id, advocate_id = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    with scopes_disabled():
        return Advocate.objects.select_related("workspace").filter(pk=advocate_id, workspace_id=workspace_id).first()


@transaction.atomic
def unsubscribe(*, advocate: Advocate) -> bool:
    """Stop emailing this advocate (their email channel is removed). False if it already was."""
    with scopes_disabled():
        locked = Advocate.objects.select_for_update().get(pk=advocate.pk)
        channels = [c for c in (locked.channels or []) if c != Channel.EMAIL]
        if channels == (locked.channels or []):
            return False
        locked.channels = channels
        locked.save(update_fields=["channels", "updated_at"])
        log_action(workspace=locked.workspace, actor=locked.email, action="advocate.unsubscribed", advocate=locked,
                   message="Unsubscribed from email with the link in an email")
    advocate.channels = channels
    return True
