"""The one-click unsubscribe link of every advocate email: opening it shows one button and
changes nothing (mail scanners follow links); a POST, from the page or from a mail client's
List-Unsubscribe button, removes the email channel; a tampered link is a 404."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from advocacy.models import Advocate, Channel
from advocacy.scoping import scopes_disabled, workspace_scope
from advocacy.unsubscribe import unsubscribe_token
from programs.models import AssignmentState
from programs.services import approve_assignment
from tests.factories import AdvocateFactory, AskFactory, AssignmentFactory, ProgramFactory
from tests.isolation.helpers import assert_unchanged, db_fingerprint

pytestmark = pytest.mark.django_db


def channels_of(advocate) -> list[str]:
    with scopes_disabled():
        return Advocate.objects.get(pk=advocate.pk).channels


def test_opening_the_link_shows_one_button_and_changes_nothing(client, tenant_a):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, email="grace@customer.example")
    before = db_fingerprint()

    response = client.get(reverse("unsubscribe", args=[unsubscribe_token(advocate)]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "grace@customer.example" in html and html.count("<button") == 1 and 'method="post"' in html
    assert_unchanged(before, "opening an unsubscribe link")


def test_posting_removes_the_email_channel_and_keeps_the_others(client, tenant_a):
    advocate = AdvocateFactory(workspace=tenant_a.workspace)
    assert Channel.EMAIL in channels_of(advocate)

    response = client.post(reverse("unsubscribe", args=[unsubscribe_token(advocate)]))

    assert response.status_code == 200 and "You are unsubscribed" in response.content.decode()
    assert channels_of(advocate) == [Channel.PORTAL]
    assert client.post(reverse("unsubscribe", args=[unsubscribe_token(advocate)])).status_code == 200  # twice is fine


def test_a_mail_clients_one_click_post_needs_no_csrf_token(tenant_a):
    advocate = AdvocateFactory(workspace=tenant_a.workspace)
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(reverse("unsubscribe", args=[unsubscribe_token(advocate)]), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200 and Channel.EMAIL not in channels_of(advocate)


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    lambda t: "x" + t,
    lambda t: "not-a-token",
    lambda t: "a" * 400,
])
def test_a_tampered_link_is_404_and_changes_nothing(client, tenant_a, tamper):
    advocate = AdvocateFactory(workspace=tenant_a.workspace)
    token = tamper(unsubscribe_token(advocate))
    before = db_fingerprint()

    assert client.get(reverse("unsubscribe", args=[token])).status_code == 404
    assert client.post(reverse("unsubscribe", args=[token])).status_code == 404
    assert_unchanged(before, "a tampered unsubscribe link")


def test_the_link_from_an_approval_email_stops_the_next_emails(client, tenant_a, django_capture_on_commit_callbacks):
    advocate = AdvocateFactory(workspace=tenant_a.workspace)
    program = ProgramFactory(workspace=tenant_a.workspace)
    first, second = (AssignmentFactory(ask=AskFactory(program=program), advocate=advocate, state=AssignmentState.SUBMITTED)
                     for _ in range(2))
    with django_capture_on_commit_callbacks(execute=True), workspace_scope(tenant_a.workspace):
        approve_assignment(assignment=first, actor=tenant_a.manager)
    [message] = mail.outbox
    link = message.extra_headers["List-Unsubscribe"].strip("<>")

    assert client.post(urlsplit(link).path).status_code == 200

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True), workspace_scope(tenant_a.workspace):
        approve_assignment(assignment=second, actor=tenant_a.manager)
    assert mail.outbox == []
