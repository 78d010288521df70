"""Emails of the advocate journey (rendered here, delivered by the worker; every one has
the one-click unsubscribe of advocacy/unsubscribe.py): invitation, new offer, reminder,
approval with thanks, rejection with its reason, impact."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from advocacy.notifications import email_advocate, may_email, send_templated_email
from advocacy.scoping import scopes_disabled
from advocacy.unsubscribe import unsubscribe_headers, unsubscribe_url

from .models import Assignment, AssignmentState, Invitation, Outcome

STATE_TEMPLATES = {AssignmentState.APPROVED: "assignment_approved", AssignmentState.REJECTED: "assignment_rejected"}


def send_invitation_email(*, invitation_id: int, token: str) -> None:
    with scopes_disabled():
        inv = Invitation.objects.select_related("advocate", "advocate__workspace", "program").get(pk=invitation_id)
    advocate = inv.advocate
    if not may_email(advocate):
        return
    send_templated_email(
        to=advocate.email, template="invitation",
        context={
            "name": advocate.name or advocate.email, "workspace_name": advocate.workspace.name, "invitation": inv,
            "program": inv.program, "url": settings.SITE_URL + reverse("invitation", args=[token]),
            "expires_at": inv.expires_at, "unsubscribe_url": unsubscribe_url(advocate),
        },
        headers=unsubscribe_headers(advocate),
    )


def send_offer_emails(*, workspace_id: int, assignment_ids: list[int]) -> int:
    """Tell each advocate about their new offer (one email per offer)."""
    with scopes_disabled():
        rows = list(Assignment.objects.filter(workspace_id=workspace_id, pk__in=assignment_ids, state=AssignmentState.OFFERED)
                    .select_related("ask", "ask__program", "advocate", "advocate__workspace"))
    sent = 0
    for a in rows:
        sent += email_advocate(advocate=a.advocate, template="offer_new", portal_url_name="portal_asks",
                               context={"assignment": a, "ask": a.ask, "program": a.ask.program})
    return sent


def send_assignment_email(*, assignment_id: int, template: str | None = None) -> bool:
    """Approval with thanks, rejection with its reason, or (``template``) a reminder."""
    with scopes_disabled():
        a = Assignment.objects.select_related("ask", "ask__program", "advocate", "advocate__workspace").get(pk=assignment_id)
    template = template or STATE_TEMPLATES.get(a.state)
    if template is None:
        return False
    return email_advocate(advocate=a.advocate, template=template, portal_url_name="portal_asks",
                          context={"assignment": a, "ask": a.ask, "program": a.ask.program})


def send_impact_email(*, outcome_id: int) -> bool:
    """"Your reference call helped close a deal": what the advocate's help achieved."""
    with scopes_disabled():
        o = Outcome.objects.select_related("assignment__ask", "advocate", "advocate__workspace").get(pk=outcome_id)
    return email_advocate(advocate=o.advocate, template="impact", portal_url_name="portal_impact",
                          context={"outcome": o, "ask": o.assignment.ask})
