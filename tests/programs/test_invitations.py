"""Invitations (programs/invitations.py): a personal invitation makes a candidate
``invited``; its link works 14 days and a resend replaces it; accepting makes the advocate
``active`` and enrols them; onboarding steps come before the first ask; bulk invites count
who was skipped and why; opted-out people are never invited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from advocacy.errors import Conflict, InvalidTransition, ValidationFailed
from advocacy.models import Advocate, AuditLog, Channel, Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from programs.invitations import (
    MAX_BULK,
    accept_invitation,
    bulk_invite,
    complete_onboarding,
    decline_invitation,
    find_invitation,
    invite_advocate,
    pending_onboarding,
    resend_invitation,
)
from programs.models import Enrollment, Invitation, ProgramStatus
from tests.factories import AdvocateFactory, ProgramFactory

pytestmark = pytest.mark.django_db


MESSAGE = {"note": "Your feedback shaped SSO. Join us?", "why_chosen": "Three happy years.",
           "whats_in_it": "Early betas.", "what_taking_part_looks_like": "One small ask a month."}


@pytest.fixture
def ws(tenant_a):
    with workspace_scope(tenant_a.workspace):
        yield tenant_a


def candidate(tenant, **fields) -> Advocate:
    return AdvocateFactory(workspace=tenant.workspace, stage=Stage.CANDIDATE, **fields)


def invite(tenant, advocate, program=None, **kwargs):
    return invite_advocate(advocate=advocate, actor=tenant.manager, message=kwargs.pop("message", MESSAGE),
                           inviter_name=kwargs.pop("inviter_name", "Maria Lopez"), program=program, **kwargs)


def fresh(obj):
    with scopes_disabled():
        return type(obj).objects.get(pk=obj.pk)


# --- Inviting ------------------------------------------------------------------------------


def test_inviting_a_candidate_makes_them_invited_with_a_working_link(ws):
    advocate = candidate(ws)

    sent = invite(ws, advocate)

    assert fresh(advocate).stage == Stage.INVITED
    inv = fresh(sent.invitation)
    assert (inv.status, inv.inviter_name, inv.note, inv.why_chosen) == (
        Invitation.Status.SENT, "Maria Lopez", MESSAGE["note"], MESSAGE["why_chosen"])
    assert inv.token_hash != sent.token and len(sent.token) >= 40  # only the hash is stored
    assert find_invitation(sent.token).pk == inv.pk and inv.is_open
    assert AuditLog.objects.filter(action="invitation.sent", advocate=advocate).exists()


@pytest.mark.parametrize("message, inviter, field", [
    ({"note": "   "}, "Maria", "note"),
    ({"note": "Hi"}, "  ", "inviter_name"),
    ({"note": "x" * 2001}, "Maria", "note"),
    ({"note": "Hi", "why_chosen": "y" * 2001}, "Maria", "why_chosen"),
])
def test_an_invitation_needs_a_note_and_a_named_inviter_within_the_limits(ws, message, inviter, field):
    advocate = candidate(ws)
    with pytest.raises(ValidationFailed) as err:
        invite(ws, advocate, message=message, inviter_name=inviter)
    assert field in err.value.fields
    assert fresh(advocate).stage == Stage.CANDIDATE and not Invitation.objects.exists()


@pytest.mark.parametrize("stage, erased, channels, reason", [
    (Stage.OPTED_OUT, False, None, "opted out: never contacted again"),
    (Stage.ACTIVE, False, None, "already active"),
    (Stage.CANDIDATE, True, None, "erased"),
    (Stage.CANDIDATE, False, [Channel.PORTAL], "does not take email"),
])
def test_who_cannot_be_invited_is_refused_with_why(ws, stage, erased, channels, reason):
    advocate = AdvocateFactory(workspace=ws.workspace, stage=stage, erased_at=timezone.now() if erased else None,
                               **({"channels": channels} if channels is not None else {}))
    with pytest.raises(Conflict, match=reason):
        invite(ws, advocate)
    assert not Invitation.objects.exists()


def test_an_opted_out_person_is_never_invited_even_in_bulk(ws):
    out = AdvocateFactory(workspace=ws.workspace, stage=Stage.OPTED_OUT)
    result = bulk_invite(workspace=ws.workspace, advocates=[out], actor=ws.manager, message=MESSAGE, inviter_name="Maria")
    assert result.invited == 0 and result.skipped == {"opted out: never contacted again": 1}
    assert not Invitation.objects.exists() and fresh(out).stage == Stage.OPTED_OUT


def test_inviting_into_an_archived_or_foreign_program_is_refused(ws, tenant_b):
    archived = ProgramFactory(workspace=ws.workspace, status=ProgramStatus.ARCHIVED)
    foreign = ProgramFactory(workspace=tenant_b.workspace)
    with pytest.raises(Conflict, match="invite people into an active program"):
        invite(ws, candidate(ws), program=archived)
    with pytest.raises(ValidationFailed, match="Choose a program of this workspace"):
        invite(ws, candidate(ws), program=foreign)


def test_inviting_again_replaces_the_open_invitation(ws):
    advocate = candidate(ws)
    first = invite(ws, advocate)

    second = invite(ws, advocate)

    assert fresh(first.invitation).status == Invitation.Status.REVOKED
    assert not find_invitation(first.token).is_open
    assert find_invitation(second.token).is_open
    assert Invitation.objects.filter(advocate=advocate, status=Invitation.Status.SENT).count() == 1


# --- Resend and the 14 days ----------------------------------------------------------------


def test_resend_rotates_the_token_so_the_old_link_stops_working(ws):
    advocate = candidate(ws)
    sent = invite(ws, advocate)

    with time_machine.travel(timezone.now() + timedelta(days=10), tick=False):
        again = resend_invitation(invitation=sent.invitation, actor=ws.manager)
        resent_at = timezone.now()

    assert again.token != sent.token
    assert find_invitation(sent.token) is None
    inv = find_invitation(again.token)
    assert inv.pk == sent.invitation.pk and inv.send_count == 2
    assert inv.expires_at == resent_at + timedelta(days=14)  # valid 14 days from the resend
    assert AuditLog.objects.filter(action="invitation.resent", advocate=advocate).exists()


@pytest.mark.parametrize("status", [Invitation.Status.ACCEPTED, Invitation.Status.DECLINED, Invitation.Status.REVOKED])
def test_an_answered_or_revoked_invitation_cannot_be_resent(ws, status):
    sent = invite(ws, candidate(ws))
    Invitation.objects.filter(pk=sent.invitation.pk).update(status=status)
    with pytest.raises(InvalidTransition, match="send a new one instead"):
        resend_invitation(invitation=sent.invitation, actor=ws.manager)


def test_resending_to_someone_who_opted_out_meanwhile_is_refused(ws):
    advocate = candidate(ws)
    sent = invite(ws, advocate)
    Advocate.objects.filter(pk=advocate.pk).update(stage=Stage.OPTED_OUT)
    with pytest.raises(Conflict, match="opted out"):
        resend_invitation(invitation=sent.invitation, actor=ws.manager)


def test_the_link_works_until_the_last_second_of_day_14_and_not_after(ws):
    advocate = candidate(ws)
    sent = invite(ws, advocate)
    expires = sent.invitation.sent_at + timedelta(days=14)

    with time_machine.travel(expires - timedelta(seconds=1), tick=False):
        assert find_invitation(sent.token).is_open
    with time_machine.travel(expires, tick=False):
        assert not find_invitation(sent.token).is_open
        with pytest.raises(InvalidTransition, match="expired or was replaced; ask for a new one"):
            accept_invitation(invitation=find_invitation(sent.token))
    assert fresh(advocate).stage == Stage.INVITED


def test_accepting_one_second_before_the_14_days_end_works(ws):
    advocate = candidate(ws)
    sent = invite(ws, advocate)
    with time_machine.travel(sent.invitation.expires_at - timedelta(seconds=1), tick=False):
        accept_invitation(invitation=find_invitation(sent.token))
    assert fresh(advocate).stage == Stage.ACTIVE


# --- Accept, decline, onboarding ------------------------------------------------------------


def test_accepting_makes_the_advocate_active_and_enrols_them(ws):
    program = ProgramFactory(workspace=ws.workspace)
    advocate = candidate(ws)
    sent = invite(ws, advocate, program=program)

    accept_invitation(invitation=sent.invitation)

    assert fresh(advocate).stage == Stage.ACTIVE
    assert fresh(sent.invitation).status == Invitation.Status.ACCEPTED
    enrollment = Enrollment.objects.get(program=program, advocate=advocate)
    assert enrollment.onboarded_at is not None and pending_onboarding(advocate) == []
    assert AuditLog.objects.filter(action="invitation.accepted", advocate=advocate).exists()


def test_accepting_twice_changes_nothing_more(ws):
    sent = invite(ws, candidate(ws))
    accept_invitation(invitation=sent.invitation)
    count = AuditLog.objects.count()
    accept_invitation(invitation=sent.invitation)
    assert AuditLog.objects.count() == count


def test_an_alumna_or_paused_advocate_who_accepts_becomes_active(ws):
    for stage in (Stage.ALUMNI, Stage.PAUSED):
        advocate = AdvocateFactory(workspace=ws.workspace, stage=stage)
        accept_invitation(invitation=invite(ws, advocate).invitation)
        assert fresh(advocate).stage == Stage.ACTIVE


def test_someone_who_opted_out_after_the_invitation_cannot_accept_it(ws):
    advocate = candidate(ws)
    sent = invite(ws, advocate)
    Advocate.objects.filter(pk=advocate.pk).update(stage=Stage.OPTED_OUT)
    with pytest.raises(Conflict, match="can no longer be accepted"):
        accept_invitation(invitation=sent.invitation)
    assert fresh(advocate).stage == Stage.OPTED_OUT


def test_accepting_a_program_with_steps_requires_onboarding_before_the_first_ask(ws):
    program = ProgramFactory(workspace=ws.workspace, onboarding_steps=["Accept the terms", "Add a photo"])
    advocate = candidate(ws)
    accept_invitation(invitation=invite(ws, advocate, program=program).invitation)

    [pending] = pending_onboarding(advocate)
    assert pending.program == program and pending.onboarded_at is None

    with pytest.raises(ValidationFailed, match=r"Confirm every step to continue: Add a photo\."):
        complete_onboarding(advocate=advocate, program=program, steps_done=["Accept the terms", "Something else"])
    assert Enrollment.objects.get(pk=pending.pk).onboarded_at is None

    done = complete_onboarding(advocate=advocate, program=program, steps_done=["Add a photo", "Accept the terms"])
    assert done.onboarded_at is not None and done.steps_done == ["Accept the terms", "Add a photo"]
    assert pending_onboarding(advocate) == []


def test_incomplete_onboarding_remembers_the_steps_confirmed_so_far(ws):
    program = ProgramFactory(workspace=ws.workspace, onboarding_steps=["Accept the terms", "Add a photo"])
    advocate = AdvocateFactory(workspace=ws.workspace)
    with pytest.raises(ValidationFailed):
        complete_onboarding(advocate=advocate, program=program, steps_done=["Accept the terms"])
    assert Enrollment.objects.get(program=program, advocate=advocate).steps_done == ["Accept the terms"]


def test_declining_keeps_the_advocate_invited_and_closes_the_link(ws):
    advocate = candidate(ws)
    sent = invite(ws, advocate)

    decline_invitation(invitation=sent.invitation)

    assert fresh(sent.invitation).status == Invitation.Status.DECLINED and fresh(advocate).stage == Stage.INVITED
    with pytest.raises(InvalidTransition, match="already answered"):
        decline_invitation(invitation=sent.invitation)
    with pytest.raises(InvalidTransition, match="expired or was replaced"):
        accept_invitation(invitation=sent.invitation)


@pytest.mark.parametrize("token", ["", "nope", "x" * 101])
def test_an_unknown_or_overlong_token_finds_nothing(ws, token):
    invite(ws, candidate(ws))
    assert find_invitation(token) is None


# --- Bulk ---------------------------------------------------------------------------------


def test_bulk_invite_invites_whom_it_can_and_counts_the_others_by_reason(ws):
    people = [candidate(ws) for _ in range(3)]
    people += [AdvocateFactory(workspace=ws.workspace, stage=Stage.ACTIVE) for _ in range(2)]
    people += [AdvocateFactory(workspace=ws.workspace, stage=Stage.OPTED_OUT)]
    people += [candidate(ws, channels=[Channel.PORTAL])]
    people += [candidate(ws, erased_at=timezone.now())]

    result = bulk_invite(workspace=ws.workspace, advocates=people, actor=ws.manager, message=MESSAGE, inviter_name="Maria")

    assert result.invited == 3
    assert result.skipped == {"already active": 2, "opted out: never contacted again": 1, "does not take email": 1, "erased": 1}
    assert result.summary() == ("3 invited; skipped: 2 already active, 1 does not take email, 1 erased, "
                                "1 opted out: never contacted again")
    assert Invitation.objects.filter(status=Invitation.Status.SENT).count() == 3


def test_bulk_invite_checks_the_message_before_inviting_anyone(ws):
    with pytest.raises(ValidationFailed):
        bulk_invite(workspace=ws.workspace, advocates=[candidate(ws)], actor=ws.manager, message={"note": ""}, inviter_name="Maria")
    assert not Invitation.objects.exists()


def test_bulk_invite_refuses_more_than_the_limit(ws):
    people = [candidate(ws)] * (MAX_BULK + 1)
    with pytest.raises(ValidationFailed, match="at most 1,000"):
        bulk_invite(workspace=ws.workspace, advocates=people, actor=ws.manager, message=MESSAGE, inviter_name="Maria")
    assert not Invitation.objects.exists()


def test_a_bulk_invitation_of_more_than_fifty_is_sent_by_the_worker_once(ws, django_capture_on_commit_callbacks):
    from programs.invitations import INLINE_BULK, bulk_invite, invite_in_bulk

    people = [candidate(ws) for _ in range(INLINE_BULK + 2)]
    with django_capture_on_commit_callbacks(execute=True):
        result = bulk_invite(workspace=ws.workspace, advocates=people, actor=ws.manager, message=MESSAGE, inviter_name="Maya")
    assert (result.invited, result.queued) == (0, INLINE_BULK + 2)
    assert "being sent in the background" in result.summary()
    assert Invitation.objects.filter(advocate__in=people, status=Invitation.Status.SENT).count() == INLINE_BULK + 2
    # A redelivered task invites nobody a second time.
    requested_at = Invitation.objects.order_by("sent_at").first().sent_at
    assert invite_in_bulk(workspace=ws.workspace, advocate_ids=[p.pk for p in people], message={**MESSAGE, "inviter_name": "Maya"},
                          program=None, actor=ws.manager, requested_at=requested_at) == 0
    assert Invitation.objects.filter(advocate__in=people).count() == INLINE_BULK + 2
