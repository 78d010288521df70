"""/api/v1/invitations/: invite an advocate through programs.invitations (the link's token
is emailed, never returned), list and filter, resend with a new link; refusals are 409
`not_invitable` with the reason; another workspace's ids, in the URL or the body, are 404;
Idempotency-Key; a pinned query count. PRODUCT.md "Advocates" (invitations)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from advocacy.models import Advocate, Stage, hash_token
from advocacy.scoping import scopes_disabled
from programs.models import Invitation
from tests.api.helpers import error_of, post_json
from tests.factories import AdvocateFactory, ProgramFactory
from tests.isolation.helpers import assert_unchanged, db_fingerprint

pytestmark = pytest.mark.django_db

URL = "/api/v1/invitations/"
# Authenticate the key (1), count (1), page (1).
LIST_QUERIES = 3
MESSAGE = {
    "inviter_name": "Maya Lopez", "note": "You helped three teams this quarter; would you join us?",
    "why_chosen": "Your community answers", "whats_in_it": "Early access and points",
    "what_taking_part_looks_like": "One small ask a month at most",
}


@pytest.fixture
def candidate(tenant_a):
    return AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE, email="cand@customer.example")


def invite(client, advocate_id, **extra):
    headers = {k: extra.pop(k) for k in list(extra) if k.startswith("HTTP_")}
    return post_json(client, URL, {"advocate": advocate_id, **MESSAGE, **extra}, **headers)


def invitations(**filters) -> list[Invitation]:
    with scopes_disabled():
        return list(Invitation.objects.filter(**filters))


def test_invite_answers_the_invitation_without_its_token_and_emails_the_link(api_a, candidate, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(api_a, candidate.pk)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "advocate", "program", "inviter_name", "note", "why_chosen", "whats_in_it",
                         "what_taking_part_looks_like", "status", "is_open", "sent_at", "expires_at", "send_count",
                         "responded_at", "created_at"}
    assert body | {**MESSAGE, "advocate": candidate.pk, "program": None, "status": "sent", "is_open": True, "send_count": 1} == body
    [email] = mail.outbox
    assert email.to == ["cand@customer.example"]
    token = re.search(r"/i/([\w-]+)/", email.body)
    assert token, email.body
    [invitation] = invitations(advocate=candidate)
    assert invitation.token_hash == hash_token(token.group(1))
    assert token.group(1) not in response.content.decode()
    assert invitation.token_hash not in response.content.decode()
    with scopes_disabled():
        assert Advocate.objects.get(pk=candidate.pk).stage == Stage.INVITED


def test_invite_into_a_program(api_a, tenant_a, candidate):
    program = ProgramFactory(workspace=tenant_a.workspace)
    assert invite(api_a, candidate.pk, program=program.pk).json()["program"] == program.pk


def test_a_new_invitation_replaces_the_open_one(api_a, candidate):
    first = invite(api_a, candidate.pk).json()
    second = invite(api_a, candidate.pk).json()
    assert api_a.get(f"{URL}{first['id']}/").json()["status"] == "revoked"
    assert api_a.get(f"{URL}{second['id']}/").json()["status"] == "sent"


def test_invite_replays_with_its_idempotency_key(api_a, candidate):
    first = invite(api_a, candidate.pk, HTTP_IDEMPOTENCY_KEY="inv-1")
    again = invite(api_a, candidate.pk, HTTP_IDEMPOTENCY_KEY="inv-1")
    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (201, 201, "true")
    assert again.json() == first.json()
    assert len(invitations(advocate=candidate)) == 1


@pytest.mark.parametrize(("stage", "reason"), [
    (Stage.ACTIVE, "already active"), (Stage.OPTED_OUT, "opted out: never contacted again"),
])
def test_someone_who_cannot_be_invited_is_409_not_invitable_with_the_reason(api_a, tenant_a, stage, reason):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, stage=stage, name="Ada")
    before = db_fingerprint()
    error = error_of(invite(api_a, advocate.pk), 409, "not_invitable")
    assert error["message"] == f"Ada cannot be invited: {reason}."
    assert_unchanged(before, "refused invitation")


@pytest.mark.parametrize("status", ["paused", "archived"])
def test_an_inactive_program_is_409(api_a, tenant_a, candidate, status):
    program = ProgramFactory(workspace=tenant_a.workspace, status=status)
    error_of(invite(api_a, candidate.pk, program=program.pk), 409, "program_not_active")
    assert invitations() == []


@pytest.mark.parametrize(("change", "field"), [
    ({"note": ""}, "note"), ({"note": None}, "note"), ({"inviter_name": ""}, "inviter_name"),
    ({"note": "x" * 2001}, "note"), ({"why_chosen": "x" * 2001}, "why_chosen"), ({"inviter_name": "x" * 121}, "inviter_name"),
    ({"advocate": "someone"}, "advocate"), ({"advocate": None}, "advocate"), ({"program": "p"}, "program"),
])
def test_bad_input_is_400_with_the_field_named(api_a, candidate, change, field):
    body = {"advocate": candidate.pk, **MESSAGE, **change}
    error = error_of(post_json(api_a, URL, body), 400)
    assert field in error["fields"], error
    assert invitations() == []


def test_another_workspaces_advocate_or_program_is_404(api_a, tenant_a, tenant_b, candidate):
    theirs = AdvocateFactory(workspace=tenant_b.workspace, stage=Stage.CANDIDATE)
    their_program = ProgramFactory(workspace=tenant_b.workspace)
    before = db_fingerprint()
    missing = invite(api_a, 2_000_000_000)
    for response in (invite(api_a, theirs.pk), invite(api_a, candidate.pk, program=their_program.pk)):
        error_of(response, 404, "not_found")
        assert response.json() == missing.json()
    assert_unchanged(before, "invitations naming B's rows")


def test_list_is_newest_first_and_filters(api_a, tenant_a, candidate):
    program = ProgramFactory(workspace=tenant_a.workspace)
    other = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE)
    with time_machine.travel("2026-03-01T10:00:00Z"):
        old = invite(api_a, candidate.pk, program=program.pk).json()
    with time_machine.travel("2026-04-01T10:00:00Z"):
        new = invite(api_a, other.pk).json()
    with scopes_disabled():
        Invitation.objects.filter(pk=old["id"]).update(status=Invitation.Status.DECLINED)

    def ids(query=""):
        response = api_a.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [i["id"] for i in response.json()["results"]]

    assert ids() == [new["id"], old["id"]]
    assert ids("status=declined") == [old["id"]]
    assert ids(f"advocate={other.pk}") == [new["id"]]
    assert ids(f"program={program.pk}") == [old["id"]]
    error_of(api_a.get(f"{URL}?status=lost"), 400)


def test_the_list_runs_the_same_queries_for_5_and_50_invitations(api_a, tenant_a):
    url = f"{URL}?page_size=200"

    def add(n):
        for i in range(n):
            Invitation.objects.with_scopes_disabled().create(
                workspace=tenant_a.workspace, advocate=AdvocateFactory(workspace=tenant_a.workspace), inviter_name="M",
                note="Hi", token_hash=hash_token(f"t-{Invitation.objects.with_scopes_disabled().count()}-{i}"))

    with time_machine.travel("2026-05-10T12:00:00Z", tick=False):
        api_a.get(url)
        add(5)
        with CaptureQueriesContext(connection) as five:
            api_a.get(url)
        add(45)
        with CaptureQueriesContext(connection) as fifty:
            assert api_a.get(url).json()["count"] == 50
    assert len(five.captured_queries) == len(fifty.captured_queries) == LIST_QUERIES


def test_resend_sends_a_new_link_valid_14_days_from_now(api_a, candidate, django_capture_on_commit_callbacks):
    with time_machine.travel("2026-03-01T10:00:00Z"):
        first = invite(api_a, candidate.pk).json()
        [old] = invitations(pk=first["id"])
    with time_machine.travel("2026-03-10T10:00:00Z", tick=False), django_capture_on_commit_callbacks(execute=True):
        response = post_json(api_a, f"{URL}{first['id']}/resend/", {})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["send_count"], body["sent_at"], body["expires_at"]) == (2, "2026-03-10T10:00:00Z", "2026-03-24T10:00:00Z")
    [new] = invitations(pk=first["id"])
    assert new.token_hash != old.token_hash
    assert len(mail.outbox) == 1


def test_resend_of_an_answered_invitation_is_409(api_a, candidate):
    first = invite(api_a, candidate.pk).json()
    with scopes_disabled():
        Invitation.objects.filter(pk=first["id"]).update(status=Invitation.Status.DECLINED)
    before = db_fingerprint()
    error_of(post_json(api_a, f"{URL}{first['id']}/resend/", {}), 409, "invalid_transition")
    assert_unchanged(before, "refused resend")


def test_resend_to_someone_who_opted_out_meanwhile_is_409_not_invitable(api_a, candidate):
    first = invite(api_a, candidate.pk).json()
    with scopes_disabled():
        Advocate.objects.filter(pk=candidate.pk).update(stage=Stage.OPTED_OUT)
    error_of(post_json(api_a, f"{URL}{first['id']}/resend/", {}), 409, "not_invitable")


def test_an_expired_link_shows_as_not_open(api_a, candidate):
    first = invite(api_a, candidate.pk).json()
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        body = api_a.get(f"{URL}{first['id']}/").json()
    assert (body["status"], body["is_open"]) == ("sent", False)


@pytest.mark.parametrize(("method", "path"), [("get", ""), ("post", "resend/"), ("patch", ""), ("delete", "")])
def test_another_workspaces_key_gets_404(tenant_b, api_a, candidate, method, path):
    invitation = invite(api_a, candidate.pk).json()
    before = db_fingerprint()
    response = getattr(tenant_b.api(), method)(f"{URL}{invitation['id']}/{path}", {}, format="json")
    assert response.status_code == (404 if method in ("get", "post") else 405)
    assert_unchanged(before, f"{method} {path} with B's key")
    assert tenant_b.api().get(URL).json()["count"] == 0
