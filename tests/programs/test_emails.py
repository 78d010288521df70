"""The six emails of the advocate journey: each has a subject, a text and an HTML part, its
one button into the portal (or the invitation link), the one-click unsubscribe link and the
List-Unsubscribe headers; nobody who opted out or dropped email gets one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from advocacy.models import Advocate, Channel, Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from advocacy.unsubscribe import advocate_for_token
from programs.invitations import invite_advocate, resend_invitation
from programs.models import AskKind, AssignmentState, DealStatus, OutcomeKind
from programs.services import (
    approve_assignment,
    create_offers,
    record_outcome,
    reject_assignment,
    send_reminders,
    update_outcome,
)
from tests.factories import AdvocateFactory, AskFactory, AssignmentFactory, ProgramFactory

pytestmark = pytest.mark.django_db
S = AssignmentState


def advocate_of(tenant, **fields) -> Advocate:
    defaults = {"name": "Grace O'Neil", "email": "grace@customer.example"}
    return AdvocateFactory(workspace=tenant.workspace, **(defaults | fields))


def work(tenant, advocate, state, **ask_fields):
    ask = AskFactory(program=ProgramFactory(workspace=tenant.workspace, name="Champions"), **ask_fields)
    return AssignmentFactory(ask=ask, advocate=advocate, state=state)


def send_invitation(tenant, advocate):
    with workspace_scope(tenant.workspace):
        return invite_advocate(advocate=advocate, actor=tenant.manager, inviter_name="Maria Lopez",
                               message={"note": "Your feedback shaped SSO.\nJoin us?", "why_chosen": "Three happy years."},
                               program=ProgramFactory(workspace=tenant.workspace, name="Champions"))


def send_offer(tenant, advocate):
    ask = AskFactory(program=ProgramFactory(workspace=tenant.workspace, name="Champions"), title="Review us on G2",
                     points=80, kind=AskKind.REVIEW, instructions="Two sentences are plenty.")
    with workspace_scope(tenant.workspace):
        create_offers(ask=ask, advocate_ids=[advocate.pk], now=timezone.now())


def send_reminder(tenant, advocate):
    a = work(tenant, advocate, S.OFFERED, title="Review us on G2", points=80)
    with scopes_disabled():
        type(a).objects.filter(pk=a.pk).update(offer_expires_at=timezone.now() + timedelta(days=1))
    with workspace_scope(tenant.workspace):
        assert send_reminders(workspace=tenant.workspace) == 1


def send_approval(tenant, advocate):
    a = work(tenant, advocate, S.SUBMITTED, title="Review us on G2", points=80)
    with workspace_scope(tenant.workspace):
        approve_assignment(assignment=a, actor=tenant.manager)


def send_rejection(tenant, advocate):
    a = work(tenant, advocate, S.SUBMITTED, title="Review us on G2", points=80)
    with workspace_scope(tenant.workspace):
        reject_assignment(assignment=a, actor=tenant.manager, reason="The review link does not open.")


def send_impact(tenant, advocate):
    a = work(tenant, advocate, S.APPROVED, title="Take a reference call", kind=AskKind.REFERENCE_CALL)
    with workspace_scope(tenant.workspace):
        record_outcome(assignment=a, actor=tenant.manager, data={
            "kind": OutcomeKind.DEAL, "deal_name": "Acme", "amount": Decimal("45000"), "deal_status": DealStatus.WON,
            "note": "They signed for three years."})


SENDERS = {
    "invitation": send_invitation, "offer_new": send_offer, "offer_reminder": send_reminder,
    "assignment_approved": send_approval, "assignment_rejected": send_rejection, "impact": send_impact,
}

# What each email must say (in both parts), and where its button goes.
EXPECTED = {
    "invitation": {
        "subject": "Maria Lopez invites you to Champions",
        "says": ["Hi Grace O", "Your feedback shaped SSO.", "Maria Lopez", "Three happy years.", "The link works until"],
        "button": "/i/",
    },
    "offer_new": {
        "subject": "Could you help? Review us on G2",
        "says": ["Review us on G2", "80 points", "Two sentences are plenty.", "by "],
        "button": "/portal/alpha/asks/",
    },
    "offer_reminder": {
        "subject": "Reminder: \"Review us on G2\" is waiting for your answer",
        "says": ["Review us on G2", "expires on"],
        "button": "/portal/alpha/asks/",
    },
    "assignment_approved": {
        "subject": "Thank you! \"Review us on G2\" is approved",
        "says": ["Thank you for", "80 points", "approved"],
        "button": "/portal/alpha/asks/",
    },
    "assignment_rejected": {
        "subject": "About your proof for \"Review us on G2\"",
        "says": ["could not accept", "The review link does not open.", "What next"],
        "button": "/portal/alpha/asks/",
    },
    "impact": {
        "subject": "Your reference call helped close a deal",
        "says": ["Your reference call helped close a deal: Acme, 45,000.00 USD, won", "They signed for three years."],
        "button": "/portal/alpha/impact/",
    },
}


@pytest.mark.parametrize("template", list(SENDERS))
def test_each_journey_email_has_subject_text_html_its_button_and_one_click_unsubscribe(
    tenant_a, template, django_capture_on_commit_callbacks,
):
    advocate = advocate_of(tenant_a, stage=Stage.CANDIDATE if template == "invitation" else Stage.ACTIVE)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        SENDERS[template](tenant_a, advocate)

    [message] = mail.outbox
    expected = EXPECTED[template]
    html = message.alternatives[0][0]
    assert message.to == ["grace@customer.example"]
    assert message.subject == expected["subject"]
    assert "&#x27;" not in message.subject + message.body and "&amp;" not in message.body  # text parts are not HTML-escaped
    for phrase in expected["says"]:
        assert phrase in message.body, (template, phrase)
        assert phrase.replace('"', "&quot;") in html.replace("&#x27;", "'"), (template, phrase)
    button = f'href="{settings.SITE_URL}{expected["button"]}'
    assert button in html
    assert f"{settings.SITE_URL}{expected['button']}" in message.body
    link = message.extra_headers["List-Unsubscribe"].removeprefix("<").removesuffix(">")
    assert link.startswith(f"{settings.SITE_URL}/u/") and link in message.body and link in html
    assert advocate_for_token(link.rsplit("/", 2)[-2]).pk == advocate.pk
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("template", list(SENDERS))
@pytest.mark.parametrize("who", ["opted out", "without the email channel", "erased"])
def test_nobody_who_opted_out_or_dropped_email_gets_a_journey_email(tenant_a, template, who, django_capture_on_commit_callbacks):
    advocate = advocate_of(tenant_a, stage=Stage.CANDIDATE if template == "invitation" else Stage.ACTIVE)
    mail.outbox.clear()

    def silence():
        with scopes_disabled():
            if who == "opted out":
                Advocate.objects.filter(pk=advocate.pk).update(stage=Stage.OPTED_OUT)
            elif who == "without the email channel":
                Advocate.objects.filter(pk=advocate.pk).update(channels=[Channel.PORTAL])
            else:
                Advocate.objects.filter(pk=advocate.pk).update(erased_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        if template == "invitation":
            # An invitation cannot even be made for them; one sent before they opted out is
            # not delivered either (the email is sent after the commit).
            sent = send_invitation(tenant_a, advocate)
            silence()
        else:
            silence()
            with scopes_disabled():
                advocate = Advocate.objects.get(pk=advocate.pk)
            SENDERS[template](tenant_a, advocate)

    assert mail.outbox == []
    if template == "invitation":
        assert sent.token


def test_an_advocate_with_no_email_address_gets_nothing(tenant_a, django_capture_on_commit_callbacks):
    advocate = advocate_of(tenant_a)
    with scopes_disabled():
        Advocate.objects.filter(pk=advocate.pk).update(email="")
        advocate = Advocate.objects.get(pk=advocate.pk)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        send_approval(tenant_a, advocate)

    assert mail.outbox == []


def test_a_resent_invitation_carries_the_new_link_and_no_longer_the_old(tenant_a, django_capture_on_commit_callbacks):
    advocate = advocate_of(tenant_a, stage=Stage.CANDIDATE)
    with django_capture_on_commit_callbacks(execute=True):
        first = send_invitation(tenant_a, advocate)
    with django_capture_on_commit_callbacks(execute=True), workspace_scope(tenant_a.workspace):
        second = resend_invitation(invitation=first.invitation, actor=tenant_a.manager)

    old, new = mail.outbox[-2:]
    assert reverse("invitation", args=[first.token]) in old.body
    assert reverse("invitation", args=[second.token]) in new.body
    assert reverse("invitation", args=[first.token]) not in new.body


def test_a_deal_turning_won_tells_the_advocate_again(tenant_a, django_capture_on_commit_callbacks):
    advocate = advocate_of(tenant_a)
    a = work(tenant_a, advocate, S.APPROVED, kind=AskKind.REFERENCE_CALL)
    with django_capture_on_commit_callbacks(execute=True), workspace_scope(tenant_a.workspace):
        outcome = record_outcome(assignment=a, actor=tenant_a.manager, data={
            "kind": OutcomeKind.DEAL, "deal_name": "Globex", "amount": 1000, "deal_status": DealStatus.OPEN})
    assert mail.outbox[-1].subject == "Your reference call is helping a deal along"
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True), workspace_scope(tenant_a.workspace):
        update_outcome(outcome=outcome, actor=tenant_a.manager, data={"amount": 1000})
    assert mail.outbox == []  # still open: nothing new to tell

    with django_capture_on_commit_callbacks(execute=True), workspace_scope(tenant_a.workspace):
        update_outcome(outcome=outcome, actor=tenant_a.manager, data={"deal_status": DealStatus.WON})
    [message] = mail.outbox
    assert "Your reference call helped close a deal: Globex, 1,000.00 USD, won" in message.body


@pytest.mark.parametrize("kind, data, subject, sentence", [
    (OutcomeKind.REVIEW, {"url": "https://g2.com/r/9"}, "Your review led to a published review",
     "Your review led to a published review: https://g2.com/r/9"),
    (OutcomeKind.REACH, {"reach": 12500}, "Your review reached 12,500 people", "Your review reached 12,500 people"),
])
def test_the_impact_email_tells_each_kind_of_outcome(tenant_a, kind, data, subject, sentence, django_capture_on_commit_callbacks):
    advocate = advocate_of(tenant_a)
    a = work(tenant_a, advocate, S.APPROVED, kind=AskKind.REVIEW)
    with django_capture_on_commit_callbacks(execute=True), workspace_scope(tenant_a.workspace):
        record_outcome(assignment=a, actor=tenant_a.manager, data={"kind": kind, **data})
    [message] = mail.outbox
    assert message.subject == subject and sentence in message.body and sentence in message.alternatives[0][0]


def test_one_offer_email_per_new_offer_and_none_for_people_offered_before(tenant_a, django_capture_on_commit_callbacks):
    first, second = advocate_of(tenant_a), advocate_of(tenant_a, email="ada@customer.example", name="Ada")
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace), title="Join the beta")
    with django_capture_on_commit_callbacks(execute=True), workspace_scope(tenant_a.workspace):
        create_offers(ask=ask, advocate_ids=[first.pk], now=timezone.now())
    with django_capture_on_commit_callbacks(execute=True), workspace_scope(tenant_a.workspace):
        create_offers(ask=ask, advocate_ids=[first.pk, second.pk], now=timezone.now())
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@customer.example", "grace@customer.example"]
