"""Invitations from the manager pages (one person from their page with a preview; many from
the advocate list's filter with a confirmation of who is invited and who skipped and why;
the list with its filters, expiry and resend) and what the advocate's page shows of their
journey (fatigue, holds, assignments, invitations, outcomes, open tasks)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
import time_machine
from django.utils import timezone

from advocacy.budget import record_hold
from advocacy.models import Advocate, HoldReason, Stage, Task, TaskKind
from advocacy.scoping import scopes_disabled, workspace_scope
from advocacy.services.tasks import open_task
from programs.invitations import invite_advocate
from programs.models import AssignmentState, Invitation
from tests.factories import AdvocateFactory, AskFactory, AssignmentFactory, ProgramFactory
from tests.programs.pages import post_forms, reload, text, url

pytestmark = pytest.mark.django_db
S = AssignmentState


def message(**overrides) -> dict:
    return {"program": "", "inviter_name": "Maria Manager", "note": "Hi Cleo, we would love to have you.",
            "why_chosen": "You answered everyone in the community.", "whats_in_it": "Early access.",
            "what_taking_part_looks_like": "One small ask a month."} | overrides


def candidate(tenant, **fields) -> Advocate:
    return AdvocateFactory(workspace=tenant.workspace, stage=Stage.CANDIDATE, **fields)


def invited(tenant, advocate=None, **fields):
    advocate = advocate or candidate(tenant)
    with workspace_scope(tenant.workspace):
        return invite_advocate(advocate=advocate, actor=None, message={"note": "Join us"}, inviter_name="Maria", **fields).invitation


# --- Invite one --------------------------------------------------------------------------------


def test_the_invite_form_is_prefilled_with_a_personal_template_and_the_managers_name(client, tenant_a):
    cleo = candidate(tenant_a, name="Cleo Customer", company="Acme")
    tenant_a.manager.first_name, tenant_a.manager.last_name = "Maria", "Manager"
    tenant_a.manager.save()
    client.force_login(tenant_a.manager)

    response = client.get(url("advocate_invite", tenant_a, cleo.pk))

    body = text(response)
    assert response.status_code == 200
    assert 'name="inviter_name" value="Maria Manager"' in response.content.decode()
    assert "Hi Cleo," in body and f"Thank you for working with {tenant_a.workspace.name}" in body
    assert "What taking part looks like" in body and "Join the program" in body  # the preview


def test_preview_shows_the_edited_message_without_sending(client, tenant_a, mailoutbox):
    cleo = candidate(tenant_a)
    program = ProgramFactory(workspace=tenant_a.workspace, name="Beta club")
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_invite", tenant_a, cleo.pk),
                           message(note="A very personal note", program=str(program.pk), action="preview"))

    assert response.status_code == 200
    assert "Maria Manager invites you to Beta club at" in text(response) and "A very personal note" in text(response)
    with scopes_disabled():
        assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_inviting_one_advocate_sends_the_email_and_marks_them_invited(client, tenant_a, django_capture_on_commit_callbacks, mailoutbox):
    cleo = candidate(tenant_a, email="cleo@customer.example")
    program = ProgramFactory(workspace=tenant_a.workspace)
    client.force_login(tenant_a.manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("advocate_invite", tenant_a, cleo.pk), message(program=str(program.pk), action="send"))

    assert response.status_code == 302 and response["Location"] == url("advocate_detail", tenant_a, cleo.pk)
    with scopes_disabled():
        invitation = Invitation.objects.get(advocate=cleo)
    assert (invitation.inviter_name, invitation.program, invitation.invited_by) == ("Maria Manager", program, tenant_a.manager)
    assert invitation.why_chosen == "You answered everyone in the community."
    assert reload(cleo).stage == Stage.INVITED
    assert [m.to for m in mailoutbox] == [["cleo@customer.example"]]
    assert "Hi Cleo, we would love to have you." in mailoutbox[0].body


@pytest.mark.parametrize(("change", "status", "text_"), [
    ({"note": ""}, 400, "This field is required."),
    ({"inviter_name": ""}, 400, "This field is required."),
    ({"note": "x" * 2001}, 400, "at most 2000 characters"),
    ({"program": "999999"}, 400, "Select a valid choice."),
])
def test_an_invalid_invitation_re_renders_400(client, tenant_a, change, status, text_):
    cleo = candidate(tenant_a)
    client.force_login(tenant_a.manager)
    response = client.post(url("advocate_invite", tenant_a, cleo.pk), message(**change))
    assert response.status_code == status and text_ in text(response)
    with scopes_disabled():
        assert not Invitation.objects.exists()


def test_inviting_an_active_advocate_is_a_409_with_the_reason(client, tenant_a):
    active = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.ACTIVE, name="Al Active")
    client.force_login(tenant_a.manager)
    page = text(client.get(url("advocate_invite", tenant_a, active.pk)))
    assert "Al Active cannot be invited: already active." in page

    response = client.post(url("advocate_invite", tenant_a, active.pk), message())

    assert response.status_code == 409 and "Al Active cannot be invited: already active." in text(response)


def test_inviting_into_a_paused_program_is_409(client, tenant_a):
    cleo = candidate(tenant_a)
    program = ProgramFactory(workspace=tenant_a.workspace, name="Old", status="paused")
    client.force_login(tenant_a.manager)
    response = client.post(url("advocate_invite", tenant_a, cleo.pk), message(program=str(program.pk)))
    assert response.status_code == 409 and "Old is paused; invite people into an active program." in text(response)


def test_viewer_is_not_shown_the_invite_form_and_cannot_post_it(client, tenant_a):
    cleo = candidate(tenant_a)
    client.force_login(tenant_a.viewer)
    assert client.get(url("advocate_invite", tenant_a, cleo.pk)).status_code == 403
    assert client.post(url("advocate_invite", tenant_a, cleo.pk), message()).status_code == 403
    assert client.get(url("advocate_bulk_invite", tenant_a)).status_code == 403
    assert client.post(url("advocate_bulk_invite", tenant_a), message(query="")).status_code == 403
    assert reload(cleo).stage == Stage.CANDIDATE


# --- Bulk invite from the list's filter -----------------------------------------------------------


@pytest.fixture
def crowd(tenant_a):
    ws = tenant_a.workspace
    return {
        "candidates": [AdvocateFactory(workspace=ws, tags=["vip"], stage=Stage.CANDIDATE) for _ in range(3)],
        "active": AdvocateFactory(workspace=ws, tags=["vip"], stage=Stage.ACTIVE),
        "opted_out": AdvocateFactory(workspace=ws, tags=["vip"], stage=Stage.OPTED_OUT),
        "no_email": AdvocateFactory(workspace=ws, tags=["vip"], channels=[], stage=Stage.CANDIDATE),
        "other": AdvocateFactory(workspace=ws, tags=["other"], stage=Stage.CANDIDATE),
    }


def test_the_list_links_to_bulk_invite_with_its_filter(client, tenant_a, crowd):
    client.force_login(tenant_a.manager)
    html = client.get(url("advocate_list", tenant_a), {"tag": "vip"}).content.decode()
    assert f'href="{url("advocate_bulk_invite", tenant_a)}?tag=vip"' in html and "Invite these (6)" in unescape(html)
    client.force_login(tenant_a.viewer)
    assert "Invite these" not in client.get(url("advocate_list", tenant_a), {"tag": "vip"}).content.decode()


def test_bulk_invite_confirmation_counts_who_is_invited_and_who_is_skipped_why(client, tenant_a, crowd):
    client.force_login(tenant_a.manager)

    body = text(client.get(url("advocate_bulk_invite", tenant_a), {"tag": "vip", "page": "2"}))

    assert "3 will be invited of the 6 advocates this filter shows." in body
    assert "1 already active" in body and "1 opted out: never contacted again" in body and "1 does not take email" in body
    assert "Send 3 invitations" in body


def test_bulk_invite_sends_to_the_filtered_people_who_can_be_invited(client, tenant_a, crowd, django_capture_on_commit_callbacks, mailoutbox):
    client.force_login(tenant_a.manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("advocate_bulk_invite", tenant_a), message(query="tag=vip&page=1"))

    assert response.status_code == 302
    with scopes_disabled():
        invited_ids = set(Invitation.objects.values_list("advocate_id", flat=True))
    assert invited_ids == {a.pk for a in crowd["candidates"]}
    assert len(mailoutbox) == 3
    assert "Bulk invitation: 3 invited; skipped: 1 already active, 1 does not take email, 1 opted out: never contacted again." in text(
        client.get(response["Location"]))


def test_bulk_invite_refuses_a_filter_matching_more_than_the_limit(client, tenant_a, monkeypatch):
    from programs import invitations

    monkeypatch.setattr(invitations, "MAX_BULK", 2)
    for _ in range(3):
        AdvocateFactory(workspace=tenant_a.workspace, tags=["many"], stage=Stage.CANDIDATE)
    client.force_login(tenant_a.manager)

    assert "matches more than 2 people" in text(client.get(url("advocate_bulk_invite", tenant_a), {"tag": "many"}))
    response = client.post(url("advocate_bulk_invite", tenant_a), message(query="tag=many"))
    assert response.status_code == 400
    with scopes_disabled():
        assert not Invitation.objects.exists()


def test_bulk_invite_with_a_filter_nobody_can_take_shows_an_empty_state(client, tenant_a, crowd):
    client.force_login(tenant_a.manager)
    body = text(client.get(url("advocate_bulk_invite", tenant_a), {"stage": "active"}))
    assert "Nobody in this list can be invited" in body and "Send" not in body


def test_bulk_invite_with_garbage_filters_is_not_a_500(client, tenant_a):
    client.force_login(tenant_a.manager)
    assert client.get(url("advocate_bulk_invite", tenant_a), {"stage": "zzz", "sort": "bogus"}).status_code == 200
    assert client.post(url("advocate_bulk_invite", tenant_a), message(query="stage=zzz")).status_code == 400


# --- The invitations list --------------------------------------------------------------------------


def test_invitations_list_filters_by_status_and_shows_expiry(client, tenant_a):
    with time_machine.travel(timezone.now() - timedelta(days=20)):
        old = invited(tenant_a, advocate=candidate(tenant_a, name="Olive Old"))
    fresh = invited(tenant_a, advocate=candidate(tenant_a, name="Fred Fresh"))
    client.force_login(tenant_a.viewer)

    everyone = client.get(url("invitation_list", tenant_a))
    assert "Olive Old" in text(everyone) and "Fred Fresh" in text(everyone) and post_forms(everyone) == []
    assert re.search(r"Fred Fresh .* Waiting expires", text(everyone))
    waiting = text(client.get(url("invitation_list", tenant_a), {"status": "open"}))
    assert "Fred Fresh" in waiting and "Olive Old" not in waiting
    expired = text(client.get(url("invitation_list", tenant_a), {"status": "expired"}))
    assert "Olive Old" in expired and "Fred Fresh" not in expired
    assert "Fred Fresh" not in text(client.get(url("invitation_list", tenant_a), {"q": "olive"}))
    assert client.get(url("invitation_list", tenant_a), {"status": "??", "page": "-3"}).status_code == 200
    assert old.pk and fresh.pk


def test_resending_an_invitation_sends_a_new_link(client, tenant_a, django_capture_on_commit_callbacks, mailoutbox):
    with time_machine.travel(timezone.now() - timedelta(days=20)):
        invitation = invited(tenant_a)
    client.force_login(tenant_a.manager)
    assert "expired" in text(client.get(url("invitation_resend", tenant_a, invitation.pk)))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("invitation_resend", tenant_a, invitation.pk))

    assert response.status_code == 302
    invitation = reload(invitation)
    assert invitation.send_count == 2 and invitation.is_open
    assert len(mailoutbox) == 1


def test_resending_an_answered_invitation_is_409_with_the_message(client, tenant_a):
    invitation = invited(tenant_a)
    with scopes_disabled():
        Invitation.objects.filter(pk=invitation.pk).update(status=Invitation.Status.ACCEPTED)
    client.force_login(tenant_a.manager)

    response = client.post(url("invitation_resend", tenant_a, invitation.pk))

    assert response.status_code == 409
    assert "This invitation was accepted; send a new one instead." in text(response)


def test_viewer_cannot_resend(client, tenant_a):
    invitation = invited(tenant_a)
    client.force_login(tenant_a.viewer)
    assert client.post(url("invitation_resend", tenant_a, invitation.pk)).status_code == 403
    assert reload(invitation).send_count == 1


# --- The advocate's page ------------------------------------------------------------------------


def test_advocate_page_shows_fatigue_holds_assignments_invitations_outcomes_and_tasks(client, tenant_a):
    ws = tenant_a.workspace
    ada = AdvocateFactory(workspace=ws, name="Ada", stage=Stage.ACTIVE, last_asked_at=timezone.now() - timedelta(days=1))
    ask = AskFactory(program=ProgramFactory(workspace=ws, name="Reviews"), title="Review us")
    AssignmentFactory(ask=ask, advocate=ada, state=S.OFFERED)
    with workspace_scope(ws):
        record_hold(advocate=ada, subject_type="ask", subject_id=ask.pk, reason=HoldReason.BUDGET,
                    detail="4 contacts in the last 30 days; the limit is 4.")
        open_task(workspace=ws, kind=TaskKind.CHECK_IN, title="Check in with Ada", advocate=ada)
    client.force_login(tenant_a.manager)

    response = client.get(url("advocate_detail", tenant_a, ada.pk))

    body = text(response)
    assert re.search(r"Held back from new offers now: Offered too recently ?: Last offered an ask on", body)
    assert "Recently held back Contact budget used up: 4 contacts in the last 30 days; the limit is 4." in body
    assert "Review us Offered" in body and "Check in with Ada" in body and "Never invited." in body
    assert "Offer an ask…" in body and "Invite…" not in body  # active: offered asks, not invited


def test_advocate_page_offers_the_invite_action_to_a_candidate_and_none_to_a_viewer(client, tenant_a):
    cleo = candidate(tenant_a)
    invited(tenant_a, advocate=cleo)
    client.force_login(tenant_a.manager)
    body = text(client.get(url("advocate_detail", tenant_a, cleo.pk)))
    assert "Invite…" in body and "Offer an ask…" not in body and "Waiting expires" in body and "Resend…" in body
    assert "No rule holds" in body

    client.force_login(tenant_a.viewer)
    viewer = client.get(url("advocate_detail", tenant_a, cleo.pk))
    assert "Invite…" not in text(viewer) and "Resend…" not in text(viewer) and post_forms(viewer) == []


def test_advocate_page_never_shows_another_workspaces_rows(client, tenant_a, tenant_b):
    with scopes_disabled():
        Advocate.objects.filter(pk=tenant_b.advocate.pk).update(stage=Stage.INVITED)
    invited_b = invited(tenant_b, advocate=candidate(tenant_b))
    with workspace_scope(tenant_b.workspace):
        open_task(workspace=tenant_b.workspace, kind=TaskKind.CHECK_IN, title="B's secret task", advocate=tenant_b.advocate)
    client.force_login(tenant_a.owner)
    body = text(client.get(url("advocate_detail", tenant_a, tenant_a.advocate.pk)))
    assert "B's secret task" not in body and invited_b.inviter_name not in body
    with scopes_disabled():
        assert Task.objects.count() == 1


def test_the_invitations_list_takes_the_same_queries_for_few_and_many(client, tenant_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(tenant_a.manager)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("invitation_list", tenant_a)).status_code == 200
        return len(ctx.captured_queries)

    program = ProgramFactory(workspace=tenant_a.workspace)
    invited(tenant_a, program=program)
    few = count()
    for _ in range(12):
        invited(tenant_a, program=program)
        invited(tenant_a)
    assert count() == few
