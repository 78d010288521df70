"""Inviting people into the advocacy program, and their onboarding.

An invitation is personal: a note from a named manager, why they were chosen, what is in
it for them, what taking part looks like, and one button. Its link carries a random token
stored only as a hash; it works for 14 days and can be resent (a new link replaces the
old). Accepting makes the advocate ``active`` and enrols them in the program; a program
with onboarding steps asks for them before the first ask.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from advocacy.audit import acting_user, log_action
from advocacy.errors import Conflict, InvalidTransition, ValidationFailed, reject_nul
from advocacy.models import Advocate, Stage, Workspace, hash_token
from advocacy.notifications import may_email
from advocacy.services.advocates import change_stage

from .models import Enrollment, Invitation, Program, ProgramStatus

TEXT_FIELDS = ("note", "why_chosen", "whats_in_it", "what_taking_part_looks_like")
MAX_TEXT = 2000
MAX_BULK = 1000


@dataclass
class SentInvitation:
    invitation: Invitation
    token: str


def clean_message(data: dict[str, Any], *, inviter_name: str) -> dict[str, str]:
    texts = {k: (data.get(k) or "").strip() for k in TEXT_FIELDS}
    reject_nul(inviter_name=inviter_name, **texts)
    if not texts["note"]:
        raise ValidationFailed("Write a personal note: it is what makes people say yes.", fields={"note": ["Required."]})
    too_long = [k for k, v in texts.items() if len(v) > MAX_TEXT]
    if too_long:
        raise ValidationFailed(f"Each text is at most {MAX_TEXT:,} characters.", fields={k: ["Too long."] for k in too_long})
    inviter_name = " ".join((inviter_name or "").split())[:120]
    if not inviter_name:
        raise ValidationFailed("Say who the invitation is from.", fields={"inviter_name": ["Required."]})
    return texts | {"inviter_name": inviter_name}


def invite_refusal(advocate: Advocate) -> str | None:
    """Why this person cannot be invited, or None."""
    if advocate.is_erased:
        return "erased"
    if advocate.stage == Stage.OPTED_OUT:
        return "opted out: never contacted again"
    if advocate.stage == Stage.ACTIVE:
        return "already active"
    if not may_email(advocate):
        return "does not take email"
    return None


def _check_program(program: Program | None, workspace: Workspace) -> None:
    if program is None:
        return
    if program.workspace_id != workspace.pk:
        raise ValidationFailed("Choose a program of this workspace.", fields={"program": ["Unknown program."]})
    if program.status not in (ProgramStatus.ACTIVE, ProgramStatus.DRAFT):
        raise Conflict(f"{program.name} is {program.get_status_display().lower()}; invite people into an active program.",
                       code="program_not_active")


def _send(invitation: Invitation, token: str) -> None:
    from .notifications import send_invitation_email

    transaction.on_commit(lambda: send_invitation_email(invitation_id=invitation.pk, token=token))


@transaction.atomic
def invite_advocate(
    *, advocate: Advocate, actor, message: dict[str, Any], inviter_name: str, program: Program | None = None,
) -> SentInvitation:
    """Invite one person. A candidate becomes ``invited``; an open invitation is replaced."""
    workspace = advocate.workspace
    texts = clean_message(message, inviter_name=inviter_name)
    _check_program(program, workspace)
    advocate = Advocate.objects.select_for_update().get(pk=advocate.pk, workspace_id=workspace.pk)
    refusal = invite_refusal(advocate)
    if refusal:
        raise Conflict(f"{advocate.display_name} cannot be invited: {refusal}.", code="not_invitable")
    Invitation.objects.filter(workspace=workspace, advocate=advocate, status=Invitation.Status.SENT).update(
        status=Invitation.Status.REVOKED, responded_at=timezone.now(),
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace, advocate=advocate, program=program, invited_by=acting_user(actor), token_hash=hash_token(token), **texts,
    )
    if advocate.stage == Stage.CANDIDATE:
        change_stage(advocate=advocate, stage=Stage.INVITED, actor=actor, reason="invitation sent")
    log_action(workspace=workspace, actor=actor, action="invitation.sent", advocate=advocate,
               message=f"Invited by {texts['inviter_name']}" + (f" to {program.name}" if program else ""),
               data={"invitation": invitation.pk})
    _send(invitation, token)
    return SentInvitation(invitation, token)


@dataclass
class BulkResult:
    invited: int = 0
    queued: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def summary(self) -> str:
        text = f"{self.queued} invitations are being sent in the background" if self.queued else f"{self.invited} invited"
        if self.skipped:
            text += "; skipped: " + ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
        return text


INLINE_BULK = 50


def bulk_invite(
    *, workspace: Workspace, advocates: Iterable[Advocate], actor, message: dict[str, Any], inviter_name: str,
    program: Program | None = None,
) -> BulkResult:
    """Invite everyone in ``advocates`` who can be invited (at most 1,000 at a time); the
    others are counted by the reason they were skipped. Up to 50 are invited at once; more
    are invited by the worker (``programs.tasks.send_bulk_invitations``)."""
    texts = clean_message(message, inviter_name=inviter_name)
    _check_program(program, workspace)
    people = list(advocates)
    if len(people) > MAX_BULK:
        raise ValidationFailed(f"Invite at most {MAX_BULK:,} people at a time; narrow the filter.")
    result = BulkResult()
    invitable = []
    for advocate in people:
        refusal = invite_refusal(advocate)
        if refusal:
            result.skip(refusal)
        else:
            invitable.append(advocate)
    if len(invitable) <= INLINE_BULK:
        for advocate in invitable:
            try:
                invite_advocate(advocate=advocate, actor=actor, message=texts, inviter_name=texts["inviter_name"], program=program)
            except Conflict as exc:  # their stage changed meanwhile: counted, the others still go
                result.skip(exc.message)
            else:
                result.invited += 1
        return result
    from advocacy.tasks import enqueue

    from .tasks import send_bulk_invitations

    enqueue(send_bulk_invitations, workspace_id=workspace.pk, advocate_ids=[a.pk for a in invitable], message=texts,
            program_id=program.pk if program else None, actor_id=acting_user(actor).pk if acting_user(actor) else None,
            requested_at=timezone.now().isoformat())
    result.queued = len(invitable)
    return result


def invite_in_bulk(
    *, workspace: Workspace, advocate_ids: list[int], message: dict[str, str], program: Program | None, actor,
    requested_at: datetime,
) -> int:
    """The worker's half of ``bulk_invite``: invite each person still invitable, one
    transaction each. Anyone invited since ``requested_at`` is skipped, so a redelivered
    task sends nobody a second invitation."""
    done = set(Invitation.objects.filter(workspace=workspace, advocate_id__in=advocate_ids, sent_at__gte=requested_at)
               .values_list("advocate_id", flat=True))
    sent = 0
    for advocate in Advocate.objects.filter(workspace=workspace, pk__in=advocate_ids).exclude(pk__in=done).order_by("id"):
        if invite_refusal(advocate):
            continue
        try:
            invite_advocate(advocate=advocate, actor=actor, message=message, inviter_name=message["inviter_name"], program=program)
        except Conflict:
            continue
        sent += 1
    return sent


@transaction.atomic
def resend_invitation(*, invitation: Invitation, actor) -> SentInvitation:
    """Send the invitation again with a new link, valid 14 days from now."""
    invitation = Invitation.objects.select_for_update().select_related("advocate").get(pk=invitation.pk, workspace_id=invitation.workspace_id)
    if invitation.status not in (Invitation.Status.SENT,):
        raise InvalidTransition(f"This invitation was {invitation.get_status_display().lower()}; send a new one instead.")
    refusal = invite_refusal(invitation.advocate)
    if refusal:
        raise Conflict(f"{invitation.advocate.display_name} cannot be invited: {refusal}.", code="not_invitable")
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    invitation.sent_at = timezone.now()
    invitation.send_count += 1
    invitation.save(update_fields=["token_hash", "sent_at", "send_count"])
    log_action(workspace=invitation.advocate.workspace, actor=actor, action="invitation.resent", advocate=invitation.advocate,
               message=f"Invitation resent ({invitation.send_count} times)", data={"invitation": invitation.pk})
    _send(invitation, token)
    return SentInvitation(invitation, token)


def find_invitation(token: str) -> Invitation | None:
    """The invitation behind a link (any workspace: the link carries none), or None."""
    from advocacy.scoping import scopes_disabled

    if not token or len(token) > 100:
        return None
    with scopes_disabled():
        return Invitation.objects.select_related("workspace", "advocate", "program", "invited_by").filter(
            token_hash=hash_token(token)).first()


@transaction.atomic
def accept_invitation(*, invitation: Invitation) -> Invitation:
    """Say yes: the advocate becomes ``active`` and is enrolled in the program."""
    invitation = Invitation.objects.select_for_update(of=("self",)).select_related("advocate", "program").get(
        pk=invitation.pk, workspace_id=invitation.workspace_id)
    if invitation.status == Invitation.Status.ACCEPTED:
        return invitation
    if not invitation.is_open:
        raise InvalidTransition("This invitation link has expired or was replaced; ask for a new one.", code="invitation_closed")
    advocate = invitation.advocate
    if advocate.stage == Stage.OPTED_OUT or advocate.is_erased:
        raise Conflict("This invitation can no longer be accepted.", code="not_invitable")
    invitation.status = Invitation.Status.ACCEPTED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])
    if advocate.stage != Stage.ACTIVE:
        if advocate.stage == Stage.CANDIDATE:
            change_stage(advocate=advocate, stage=Stage.INVITED, actor=advocate.email, reason="accepted an invitation")
        change_stage(advocate=advocate, stage=Stage.ACTIVE, actor=advocate.email, reason="accepted the invitation")
    if invitation.program is not None:
        enrol(advocate=advocate, program=invitation.program)
    log_action(workspace=advocate.workspace, actor=advocate.email, action="invitation.accepted", advocate=advocate,
               message="Accepted the invitation" + (f" to {invitation.program.name}" if invitation.program else ""),
               data={"invitation": invitation.pk})
    return invitation


@transaction.atomic
def decline_invitation(*, invitation: Invitation) -> Invitation:
    if not Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.SENT).update(
        status=Invitation.Status.DECLINED, responded_at=timezone.now(),
    ):
        raise InvalidTransition("This invitation was already answered.")
    invitation.refresh_from_db()
    log_action(workspace=invitation.workspace, actor=invitation.advocate.email, action="invitation.declined",
               advocate=invitation.advocate, message="Declined the invitation", data={"invitation": invitation.pk})
    return invitation


# --- Enrolment and onboarding ------------------------------------------------------------


def enrol(*, advocate: Advocate, program: Program) -> Enrollment:
    """Put the advocate in the program; onboarded at once when it has no steps."""
    enrollment, _ = Enrollment.objects.get_or_create(
        workspace_id=advocate.workspace_id, program=program, advocate=advocate,
        defaults={"onboarded_at": None if program.requires_onboarding else timezone.now()},
    )
    return enrollment


def complete_onboarding(*, advocate: Advocate, program: Program, steps_done: Iterable[str]) -> Enrollment:
    """Record the steps the advocate confirmed; onboarded once every step is done. Steps
    confirmed so far are kept even when some are still missing (then ValidationFailed)."""
    with transaction.atomic():
        enrollment = enrol(advocate=advocate, program=program)
        enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if enrollment.onboarded_at is not None:
            return enrollment
        done = [s for s in program.onboarding_steps if s in set(steps_done)]
        missing = [s for s in program.onboarding_steps if s not in done]
        enrollment.steps_done = done
        if not missing:
            enrollment.onboarded_at = timezone.now()
            log_action(workspace=advocate.workspace, actor=advocate.email, action="program.onboarded", advocate=advocate,
                       message=f"Finished the onboarding of {program.name}", data={"program": program.pk})
        enrollment.save(update_fields=["steps_done", "onboarded_at"])
    if missing:
        raise ValidationFailed(f"Confirm every step to continue: {'; '.join(missing)}.", fields={"steps": ["Incomplete."]})
    return enrollment


def pending_onboarding(advocate: Advocate) -> list[Enrollment]:
    """The active programs with onboarding steps that the advocate has not finished, as
    their enrolments (unsaved when they never started: finishing the steps enrols them).
    Anyone in the program may onboard, not only people invited into that program."""
    if advocate.stage == Stage.OPTED_OUT or advocate.is_erased:
        return []
    programs = list(Program.objects.filter(workspace_id=advocate.workspace_id, status=ProgramStatus.ACTIVE)
                    .exclude(onboarding_steps=[]).order_by("name", "id"))
    started = {e.program_id: e for e in Enrollment.objects.filter(
        workspace_id=advocate.workspace_id, advocate=advocate, program__in=programs)}
    pending = []
    for program in programs:
        enrollment = started.get(program.pk) or Enrollment(
            workspace_id=advocate.workspace_id, program=program, advocate=advocate, steps_done=[])
        enrollment.program = program
        if enrollment.onboarded_at is None:
            pending.append(enrollment)
    return pending
