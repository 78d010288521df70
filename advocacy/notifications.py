"""Emails: rendered from templates/emails/<name>.{subject.txt,txt,html}, sent by the worker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

_muted: ContextVar[bool] = ContextVar("notifications_muted", default=False)


@contextmanager
def muted() -> Iterator[None]:
    """Send no email inside this block (e.g. while seeding demo data, whose people are not
    real and whose history did not just happen)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def render_email(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{template}.subject.txt", context).split())
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    return subject, text, html


def send_templated_email(*, to: str, template: str, context: dict[str, Any], headers: dict | None = None) -> None:
    """Render now, deliver in the worker (queue ``email``) after the transaction commits."""
    from .tasks import enqueue, send_email

    if _muted.get():
        return
    subject, text, html = render_email(template, context)
    enqueue(send_email, to=[to], subject=subject, text=text, html=html, headers=headers or {})


def may_email(advocate) -> bool:
    """The one rule for emailing an advocate: they keep the email channel, are not erased,
    and have not opted out (opted-out people are never contacted again)."""
    from .models import Channel, Stage

    return (bool(advocate.email) and Channel.EMAIL in (advocate.channels or []) and not advocate.is_erased
            and advocate.stage != Stage.OPTED_OUT)


def email_advocate(*, advocate, template: str, context: dict[str, Any], portal_url_name: str = "portal_home") -> bool:
    """Send ``template`` to an advocate if ``may_email`` allows it, with what every advocate
    email shows (their name, the workspace, a link into their portal, a one-click unsubscribe
link and the ``List-Unsubscribe`` headers). Returns whether sent."""
    from django.urls import reverse

    from .unsubscribe import unsubscribe_headers, unsubscribe_url

    if _muted.get() or not may_email(advocate):
        return False
    send_templated_email(
        to=advocate.email, template=template,
        context={
            "name": advocate.name or advocate.email, "workspace_name": advocate.workspace.name,
            "portal_path": reverse(portal_url_name, args=[advocate.workspace.slug]),
            "unsubscribe_url": unsubscribe_url(advocate), **context,
        },
        headers=unsubscribe_headers(advocate),
    )
    return True


def send_staff_invitation(*, invitation_id: int, token: str) -> None:
    from django.urls import reverse

    from .models import StaffInvitation

    invitation = StaffInvitation.objects.select_related("workspace", "invited_by").get(pk=invitation_id)
    url = settings.SITE_URL + reverse("staff_invitation", args=[token])
    send_templated_email(
        to=invitation.email, template="staff_invitation",
        context={
            "workspace_name": invitation.workspace.name, "role": invitation.get_role_display(),
            "inviter": invitation.invited_by.display_name if invitation.invited_by else "A colleague",
            "url": url, "expires_at": invitation.expires_at,
        },
    )
