"""Programs, asks, assignments and outcomes: the one place their rules live. Manager
pages, the portal, the API, jobs and commands all call these functions and turn the
domain errors into their own answers (a form message, a 409 JSON error).

State changes of an assignment are claimed with a conditional ``UPDATE … WHERE state IN
(…)`` (the transitions are in ``programs/states.py``), so a repeated or raced approval
finds nothing to claim: the points are credited exactly once, and the ledger's idempotency
key ``assignment:<id>`` guards even a rerun.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from advocacy.audit import acting_user, log_action
from advocacy.budget import record_hold
from advocacy.errors import Conflict, InvalidTransition, ValidationFailed, reject_nul
from advocacy.models import (
    Advocate,
    AdvocateType,
    Contact,
    ContactKind,
    Expressiveness,
    Motivation,
    Stage,
    Tag,
    Workspace,
)
from advocacy.services.advocates import ensure_tags
from rewards.badges import record_fact
from rewards.models import EntryKind
from rewards.services import credit_points

from . import states
from .models import (
    DEFAULT_POINTS,
    OBJECTIVE_METRICS,
    OFFER_VALID_FOR,
    Ask,
    AskAudienceTag,
    AskKind,
    AskStatus,
    Assignment,
    AssignmentState,
    DealStatus,
    Effort,
    Enrollment,
    Outcome,
    OutcomeKind,
    Program,
    ProgramStatus,
)

S = AssignmentState

# Proof files: what an advocate may upload (a screenshot, a PDF, a document).
MAX_PROOF_BYTES = 10 * 1024 * 1024
PROOF_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".pdf": "application/pdf", ".txt": "text/plain",
}
# Facts the badges count when an assignment of a kind is approved.
FACTS_BY_KIND = {AskKind.REVIEW: "reviews_completed", AskKind.REFERENCE_CALL: "reference_calls_completed"}


def _user(actor):
    return acting_user(actor)




# --- Programs ----------------------------------------------------------------------------

PROGRAM_FIELDS = ["name", "goal", "status", "description", "landing_url", "objectives", "onboarding_steps"]


def clean_objectives(value) -> dict[str, int]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed("Objectives are targets by metric, e.g. {\"reviews\": 50}.", fields={"objectives": ["Invalid."]})
    cleaned = {}
    for metric, target in value.items():
        if metric not in OBJECTIVE_METRICS:
            raise ValidationFailed(f"“{metric}” is not a metric a program can target; use one of {', '.join(OBJECTIVE_METRICS)}.",
                                   fields={"objectives": [f"Unknown metric {metric}."]})
        if not isinstance(target, int) or isinstance(target, bool) or not 1 <= target <= 10**12:
            raise ValidationFailed(f"The target for {metric} is a whole number from 1.", fields={"objectives": [f"Bad target for {metric}."]})
        cleaned[metric] = target
    return cleaned


def clean_steps(value) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValidationFailed("Onboarding steps are a list of short texts.", fields={"onboarding_steps": ["Invalid."]})
    steps = [" ".join(s.split()) for s in value if s.strip()]
    if len(steps) > 10 or any(len(s) > 200 for s in steps):
        raise ValidationFailed("At most 10 onboarding steps of up to 200 characters.", fields={"onboarding_steps": ["Too long."]})
    return steps


def _clean_program(data: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in PROGRAM_FIELDS}
    reject_nul(**{k: data[k] for k in ("name", "description", "landing_url") if isinstance(data.get(k), str)})
    if "name" in data:
        data["name"] = " ".join((data["name"] or "").split())
        if not data["name"]:
            raise ValidationFailed("A program needs a name.", fields={"name": ["Required."]})
    if "objectives" in data:
        data["objectives"] = clean_objectives(data["objectives"])
    if "onboarding_steps" in data:
        data["onboarding_steps"] = clean_steps(data["onboarding_steps"])
    return data


def _unique_name(workspace_id: int, name: str, exclude_pk: int | None = None) -> None:
    clash = Program.objects.filter(workspace_id=workspace_id, name__iexact=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise Conflict(f"There is already a program called “{name}”.", code="duplicate_name", fields={"name": ["Already used."]})


@transaction.atomic
def create_program(*, workspace: Workspace, actor, data: dict[str, Any]) -> Program:
    data = _clean_program(data)
    _unique_name(workspace.pk, data.get("name", ""))
    program = Program.objects.create(workspace=workspace, created_by=_user(actor), **data)
    log_action(workspace=workspace, actor=actor, action="program.created", message=f"Program {program.name} created",
               data={"program": program.pk})
    return program


@transaction.atomic
def update_program(*, program: Program, actor, data: dict[str, Any]) -> Program:
    data = _clean_program(data)
    if "name" in data:
        _unique_name(program.workspace_id, data["name"], exclude_pk=program.pk)
    changed = sorted(k for k, v in data.items() if getattr(program, k) != v)
    for k, v in data.items():
        setattr(program, k, v)
    program.save()
    if changed:
        log_action(workspace=program.workspace, actor=actor, action="program.updated",
                   message=f"Program {program.name} changed: {', '.join(changed)}", data={"program": program.pk, "changed": changed})
        from .signals import program_changed

        transaction.on_commit(lambda: program_changed.send(sender=Program, program=program, changed=changed))
    return program


@transaction.atomic
def delete_program(*, program: Program, actor) -> None:
    """Delete a program that has no asks; one with asks is archived instead (409). The row
    lock makes an ask created meanwhile either wait for the delete or be seen here."""
    program = Program.objects.select_for_update().get(pk=program.pk, workspace_id=program.workspace_id)
    if Ask.objects.filter(workspace_id=program.workspace_id, program=program).exists():
        raise Conflict(f"{program.name} has asks, so it cannot be deleted; archive it instead.", code="program_has_asks")
    log_action(workspace=program.workspace, actor=actor, action="program.deleted", message=f"Program {program.name} deleted",
               data={"program": program.pk})
    program.delete()


# --- Asks --------------------------------------------------------------------------------

MAX_TENURE_DAYS = 36_500

ASK_FIELDS = [
    "program", "kind", "title", "instructions", "effort", "points", "capacity", "overbook", "deadline", "needs_approval",
    "status", "audience_types", "audience_motivations", "audience_expressiveness", "min_tier", "tenure_min_days",
    "tenure_max_days", "prospect_industry", "prospect_company_size", "prospect_use_case",
]
_CHOICE_LISTS = {
    "audience_types": AdvocateType.values,
    "audience_motivations": [m for m in Motivation.values if m != Motivation.UNKNOWN],
    "audience_expressiveness": [e for e in Expressiveness.values if e != Expressiveness.UNKNOWN],
}


def _clean_ask(workspace: Workspace, data: dict[str, Any], current: Ask | None = None) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in ASK_FIELDS}
    reject_nul(**{k: data[k] for k in ("title", "instructions", "min_tier", "prospect_industry", "prospect_company_size",
                                    "prospect_use_case") if isinstance(data.get(k), str)})
    merged = {f: getattr(current, f) for f in ASK_FIELDS if current is not None and f != "program"} | data
    if "title" in data:
        data["title"] = " ".join((data["title"] or "").split())
        if not data["title"]:
            raise ValidationFailed("An ask needs a title.", fields={"title": ["Required."]})
    if "program" in data:
        program = data["program"]
        if program is None or program.workspace_id != workspace.pk:
            raise ValidationFailed("Choose a program of this workspace.", fields={"program": ["Unknown program."]})
        moved = current is not None and program.pk != current.program_id
        if moved and Assignment.objects.filter(workspace_id=workspace.pk, ask=current).exists():
            raise Conflict("This ask was already offered, so it stays in its program (its points and outcomes count there).",
                           code="ask_in_use", fields={"program": ["Cannot move an ask that was offered."]})
    if current is None and "points" not in data:
        data["points"] = DEFAULT_POINTS[data.get("effort") or Effort.SMALL]
    for field, allowed in _CHOICE_LISTS.items():
        if field in data:
            values = data[field] or []
            bad = [v for v in values if v not in allowed]
            if not isinstance(values, list) or bad:
                raise ValidationFailed(f"{field.replace('_', ' ').capitalize()} may only hold {', '.join(allowed)}.",
                                       fields={field: [f"Invalid: {', '.join(map(str, bad))}"]})
            data[field] = sorted(set(values))
    for field in ("tenure_min_days", "tenure_max_days"):
        value = data.get(field)
        if value is not None and not 0 <= value <= MAX_TENURE_DAYS:
            raise ValidationFailed(f"A tenure window is 0 to {MAX_TENURE_DAYS:,} days.", fields={field: ["Out of range."]})
    lo, hi = merged.get("tenure_min_days"), merged.get("tenure_max_days")
    if lo is not None and hi is not None and lo > hi:
        raise ValidationFailed("The tenure window's minimum is above its maximum.", fields={"tenure_max_days": ["Below the minimum."]})
    if data.get("min_tier"):
        from rewards.services import tier_ladder

        names = [t.name for t in tier_ladder(workspace)]
        if data["min_tier"] not in names:
            raise ValidationFailed(f"“{data['min_tier']}” is not a tier; use one of {', '.join(names)}.", fields={"min_tier": ["Unknown tier."]})
    new_deadline = data.get("deadline")
    if new_deadline is not None and (current is None or new_deadline != current.deadline) and new_deadline <= timezone.now():
        raise ValidationFailed("The deadline must be in the future.", fields={"deadline": ["In the past."]})
    if data.get("status") == AskStatus.CLOSED and (current is None or current.status != AskStatus.CLOSED):
        raise ValidationFailed("Close an ask with its close action, which withdraws the outstanding offers.", fields={"status": ["Use close."]})
    return data


def _set_audience_tags(ask: Ask, names) -> None:
    wanted = ensure_tags(ask.workspace, names) if names else {}
    AskAudienceTag.objects.filter(workspace_id=ask.workspace_id, ask=ask).exclude(tag__in=list(wanted.values())).delete()
    AskAudienceTag.objects.bulk_create(
        [AskAudienceTag(workspace_id=ask.workspace_id, ask=ask, tag=t) for t in wanted.values()], ignore_conflicts=True,
    )


@transaction.atomic
def create_ask(*, workspace: Workspace, actor, data: dict[str, Any], tags=()) -> Ask:
    data = _clean_ask(workspace, data)
    if "program" not in data:
        raise ValidationFailed("Choose the program this ask belongs to.", fields={"program": ["Required."]})
    ask = Ask.objects.create(workspace=workspace, created_by=_user(actor), **data)
    _set_audience_tags(ask, tags)
    log_action(workspace=workspace, actor=actor, action="ask.created", message=f"Ask “{ask.title}” created in {ask.program.name}",
               data={"ask": ask.pk, "program": ask.program_id})
    return ask


@transaction.atomic
def update_ask(*, ask: Ask, actor, data: dict[str, Any], tags=None) -> Ask:
    ask = Ask.objects.select_for_update().get(pk=ask.pk, workspace_id=ask.workspace_id)
    data = _clean_ask(ask.workspace, data, current=ask)
    changed = sorted(k for k, v in data.items() if getattr(ask, k) != v)
    for k, v in data.items():
        setattr(ask, k, v)
    ask.save()
    if tags is not None:
        before = audience_tag_names(ask)
        _set_audience_tags(ask, tags)
        if audience_tag_names(ask) != before:
            changed.append("audience_tags")
    if changed:
        log_action(workspace=ask.workspace, actor=actor, action="ask.updated", message=f"Ask “{ask.title}” changed: {', '.join(changed)}",
                   data={"ask": ask.pk, "changed": changed})
    if ask.status == AskStatus.OPEN:
        _close_if_filled(ask)
    return ask


def audience_tag_names(ask: Ask) -> list[str]:
    return list(Tag.objects.filter(workspace_id=ask.workspace_id, pk__in=AskAudienceTag.objects.filter(
        workspace_id=ask.workspace_id, ask=ask).values("tag")).order_by("name").values_list("name", flat=True))


@transaction.atomic
def close_ask(*, ask: Ask, actor, reason: str = "Closed by a manager") -> int:
    """Close an ask: no more offers; offers not yet answered and accepted work not yet
    submitted are withdrawn (submitted proof still gets its decision). Returns how many
    assignments were withdrawn. Closing a closed ask changes nothing."""
    reject_nul(reason=reason)
    now = timezone.now()
    if not Ask.objects.filter(pk=ask.pk, workspace_id=ask.workspace_id).exclude(status=AskStatus.CLOSED).update(
        status=AskStatus.CLOSED, closed_at=now, closed_reason=reason[:200],
    ):
        return 0
    ask.status, ask.closed_at, ask.closed_reason = AskStatus.CLOSED, now, reason[:200]
    withdrawn = _withdraw_open(ask, reason=f"The ask was closed: {reason}"[:300], now=now)
    log_action(workspace=ask.workspace, actor=actor, action="ask.closed",
               message=f"Ask “{ask.title}” closed ({reason}); {withdrawn} offer{'s' if withdrawn != 1 else ''} withdrawn",
               data={"ask": ask.pk, "withdrawn": withdrawn})
    return withdrawn


@transaction.atomic
def reopen_ask(*, ask: Ask, actor) -> Ask:
    if not Ask.objects.filter(pk=ask.pk, workspace_id=ask.workspace_id, status__in=[AskStatus.CLOSED, AskStatus.DRAFT]).update(
        status=AskStatus.OPEN, closed_at=None, closed_reason="",
    ):
        raise InvalidTransition("This ask is already open.")
    ask.refresh_from_db()
    if ask.deadline and ask.deadline <= timezone.now():
        raise ValidationFailed("Its deadline has passed: set a later deadline before opening it.", fields={"deadline": ["In the past."]})
    log_action(workspace=ask.workspace, actor=actor, action="ask.opened", message=f"Ask “{ask.title}” opened", data={"ask": ask.pk})
    return ask


def _withdraw_open(ask: Ask, *, reason: str, now: datetime) -> int:
    return Assignment.objects.filter(
        workspace_id=ask.workspace_id, ask=ask, state__in=states.sources_of(S.WITHDRAWN),
    ).update(state=S.WITHDRAWN, decided_at=now, reason=reason)


def _close_if_filled(ask: Ask) -> None:
    approved = Assignment.objects.filter(workspace_id=ask.workspace_id, ask=ask, state=S.APPROVED).count()
    if approved >= ask.capacity:
        close_ask(ask=ask, actor=None, reason=f"filled: {approved} of {ask.capacity} completed")


def ask_counts(asks) -> dict[int, dict[str, int]]:
    """Assignments per state for each ask, in one query."""
    rows = (Assignment.objects.filter(ask__in=asks).values("ask_id", "state").annotate(n=Count("id")))
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["ask_id"], {})[row["state"]] = row["n"]
    return counts


# --- Offers and the advocate's answers -----------------------------------------------------


def _is_onboarded(advocate: Advocate, program: Program) -> bool:
    if not program.requires_onboarding:
        return True
    return Enrollment.objects.filter(workspace_id=program.workspace_id, program=program, advocate=advocate,
                                     onboarded_at__isnull=False).exists()


def create_offers(
    *, ask: Ask, advocate_ids: list[int], now: datetime, manual_by=None, unless_asked_after: datetime | None = None,
) -> list[Assignment]:
    """Write the offers of ``ask`` to these advocates, count each against their contact
    budget and move their ``last_asked_at``: the one path both rotation and a manager's
    offer (``manual_by``: the manager, or the API key) take. Advocates already offered
    this ask are skipped (the unique key decides)."""
    if not advocate_ids:
        return []
    # Lock the people (in id order, so concurrent offers cannot deadlock). Rotation passes
    # ``unless_asked_after`` (its run's start): anyone a concurrent manual offer reached since
    # is left out, as their budget was read before that offer.
    people = Advocate.objects.select_for_update().filter(workspace_id=ask.workspace_id, pk__in=advocate_ids)
    if unless_asked_after is not None:
        people = people.filter(Q(last_asked_at__isnull=True) | Q(last_asked_at__lte=unless_asked_after))
    advocate_ids = list(people.order_by("pk").values_list("pk", flat=True))
    if not advocate_ids:
        return []
    source = Assignment.Source.MANUAL if manual_by is not None else Assignment.Source.ROTATION
    Assignment.objects.bulk_create(
        [Assignment(workspace_id=ask.workspace_id, ask=ask, program_id=ask.program_id, advocate_id=a, state=S.OFFERED,
                    source=source, offered_by=_user(manual_by), offered_at=now, offer_expires_at=now + OFFER_VALID_FOR)
         for a in advocate_ids],
        ignore_conflicts=True,
    )
    made = list(Assignment.objects.filter(workspace_id=ask.workspace_id, ask=ask, advocate_id__in=advocate_ids, offered_at=now))
    Contact.objects.bulk_create(
        [Contact(workspace_id=ask.workspace_id, advocate_id=a.advocate_id, kind=ContactKind.OFFER, subject=f"assignment:{a.pk}", at=now)
         for a in made],
        ignore_conflicts=True,
    )
    Advocate.objects.filter(workspace_id=ask.workspace_id, pk__in=[a.advocate_id for a in made]).update(last_asked_at=now)
    if made:
        from .notifications import send_offer_emails

        ids = [a.pk for a in made]
        transaction.on_commit(lambda: send_offer_emails(workspace_id=ask.workspace_id, assignment_ids=ids))
    return made


def offer_ask(*, ask: Ask, advocate: Advocate, actor) -> Assignment:
    """A manager offers an ask to one advocate by hand. The same rules as rotation hold:
    the ask is open with room, the advocate is active, onboarded and never offered this ask,
    and the contact budget allows it. A held-back offer is refused (409 with the reason)
    and the hold is recorded after the refused attempt's transaction, so it is kept."""
    outcome = _offer_locked(ask=ask, advocate=advocate, actor=actor)
    if isinstance(outcome, Assignment):
        return outcome
    record_hold(advocate=advocate, subject_type="ask", subject_id=ask.pk, reason=outcome.reason, detail=outcome.detail)
    raise Conflict(f"Held back: {outcome.detail}", code=f"held_{outcome.reason}")


@transaction.atomic
def _offer_locked(*, ask: Ask, advocate: Advocate, actor):
    from .fatigue import offer_hold

    ask = Ask.objects.select_for_update(of=("self",)).select_related("program").get(pk=ask.pk, workspace_id=ask.workspace_id)
    now = timezone.now()
    if ask.status != AskStatus.OPEN:
        raise Conflict(f"This ask is {ask.get_status_display().lower()}: open it before offering it.", code="ask_not_open")
    if ask.deadline is not None and ask.deadline <= now:
        raise Conflict("This ask's deadline has passed: set a later one before offering it.", code="ask_not_open")
    if ask.program.status != ProgramStatus.ACTIVE:
        raise Conflict(f"{ask.program.name} is {ask.program.get_status_display().lower()}; its asks are offered once it is active.",
                       code="program_not_active")
    # The person's row is locked before their budget is read: two offers at once are counted in turn.
    advocate = Advocate.objects.select_for_update().get(pk=advocate.pk, workspace_id=ask.workspace_id)
    if advocate.stage != Stage.ACTIVE:
        raise Conflict(f"{advocate.display_name} is {advocate.get_stage_display().lower()}; only active advocates receive asks.",
                       code="advocate_not_active")
    if Assignment.objects.filter(workspace_id=ask.workspace_id, ask=ask, advocate=advocate).exists():
        raise Conflict(f"{advocate.display_name} was already offered this ask.", code="already_offered")
    if not _is_onboarded(advocate, ask.program):
        raise Conflict(f"{advocate.display_name} has not finished the onboarding of {ask.program.name}.", code="not_onboarded")
    hold = offer_hold(advocate=advocate, ask=ask, now=now)
    if hold is not None:
        return hold
    made = create_offers(ask=ask, advocate_ids=[advocate.pk], now=now, manual_by=actor or "system")
    if not made:  # a concurrent offer of the same ask to the same person won
        raise Conflict(f"{advocate.display_name} was already offered this ask.", code="already_offered")
    log_action(workspace=ask.workspace, actor=actor, action="assignment.offered", advocate=advocate,
               message=f"Offered “{ask.title}” by hand", data={"assignment": made[0].pk, "ask": ask.pk})
    return made[0]


def _claim(assignment: Assignment, target: str, **fields) -> Assignment:
    """Move the assignment to ``target`` if its current state allows it; otherwise raise
    InvalidTransition saying what is possible. Returns the fresh row."""
    claimed = Assignment.objects.filter(
        pk=assignment.pk, workspace_id=assignment.workspace_id, state__in=states.sources_of(target),
    ).update(state=target, **fields)
    fresh = Assignment.objects.select_related("ask", "ask__program", "advocate", "advocate__workspace").get(pk=assignment.pk)
    if not claimed:
        raise InvalidTransition(states.refusal(fresh.state, target))
    assignment.state = fresh.state
    return fresh


UNTAKEN = "The offer was not taken within 7 days."


def lapse_reason(assignment: Assignment, now: datetime) -> str | None:
    """Why an offer (or accepted work) has lapsed although the expiry job has not reached it
    yet: its week or the ask's deadline passed. None while it is still current. The pages
    use it to show such an offer as expired; the answers below refuse it."""
    deadline = assignment.ask.deadline
    if assignment.state in (S.OFFERED, S.ACCEPTED) and deadline is not None and deadline <= now:
        return "The ask's deadline passed."
    if assignment.state == S.OFFERED and assignment.offer_expires_at <= now:
        return UNTAKEN
    return None


def _expire_if_due(assignment: Assignment, now: datetime) -> None:
    """A lapsed offer is expired even before the job runs. Called outside the answer's
    transaction, so the expiry stays when the answer is refused."""
    fresh = Assignment.objects.select_related("ask").get(pk=assignment.pk)
    reason = lapse_reason(fresh, now)
    if reason:
        Assignment.objects.filter(pk=fresh.pk, state=fresh.state).update(state=S.EXPIRED, decided_at=now, reason=reason)
        raise InvalidTransition(f"This offer has expired: {reason[0].lower()}{reason[1:]}", code="expired")


def _owned(assignment: Assignment, advocate: Advocate | None) -> None:
    if advocate is not None and assignment.advocate_id != advocate.pk:
        raise ValidationFailed("This is not your assignment.")


def accept_assignment(*, assignment: Assignment, actor, advocate: Advocate | None = None) -> Assignment:
    """The advocate takes the ask on (``advocate`` given when they act themselves)."""
    _owned(assignment, advocate)
    now = timezone.now()
    _expire_if_due(assignment, now)
    with transaction.atomic():
        fresh = _claim(assignment, S.ACCEPTED, accepted_at=now)
        log_action(workspace=fresh.advocate.workspace, actor=actor, action="assignment.accepted", advocate=fresh.advocate,
                   message=f"Accepted “{fresh.ask.title}”", data={"assignment": fresh.pk})
    return fresh


def decline_assignment(*, assignment: Assignment, actor, reason: str = "", advocate: Advocate | None = None) -> Assignment:
    """The advocate says no (an optional reason). A lapsed offer is expired, not declined."""
    _owned(assignment, advocate)
    reject_nul(reason=reason)
    reason = " ".join((reason or "").split())
    if len(reason) > 300:
        raise ValidationFailed("The reason is at most 300 characters.", fields={"reason": ["Too long."]})
    now = timezone.now()
    _expire_if_due(assignment, now)
    with transaction.atomic():
        fresh = _claim(assignment, S.DECLINED, decided_at=now, reason=reason)
        log_action(workspace=fresh.advocate.workspace, actor=actor, action="assignment.declined", advocate=fresh.advocate,
                   message=f"Declined “{fresh.ask.title}”" + (f": {reason}" if reason else ""), data={"assignment": fresh.pk})
    return fresh


def validate_proof_file(upload) -> None:
    if upload is None:
        return
    ext = os.path.splitext(upload.name or "")[1].lower()
    if ext not in PROOF_TYPES:
        raise ValidationFailed(f"Upload a {', '.join(sorted(e.lstrip('.').upper() for e in PROOF_TYPES))} file.",
                               fields={"proof_file": ["File type not accepted."]})
    if upload.size > MAX_PROOF_BYTES:
        raise ValidationFailed(f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is {MAX_PROOF_BYTES // 1024 // 1024} MB.",
                               fields={"proof_file": ["Too large."]})
    content_type = getattr(upload, "content_type", None)
    if content_type and content_type != "application/octet-stream" and content_type != PROOF_TYPES[ext]:
        raise ValidationFailed("The file's content does not match its name.", fields={"proof_file": ["Type mismatch."]})


def submit_proof(
    *, assignment: Assignment, actor, url: str = "", text: str = "", upload=None, advocate: Advocate | None = None,
) -> Assignment:
    """The advocate hands in proof: a link, a text, or a file (PROOF_TYPES, at most 10 MB).
    An ask that needs no approval is approved (and its points credited) at once."""
    _owned(assignment, advocate)
    reject_nul(proof_url=url, proof_text=text)
    url, text = (url or "").strip(), (text or "").strip()
    if not (url or text or upload):
        raise ValidationFailed("Add a link, a few words or a file to show what you did.", fields={"proof": ["Required."]})
    if url and not url.lower().startswith(("http://", "https://")):
        raise ValidationFailed("The link must start with http:// or https://.", fields={"proof_url": ["Invalid link."]})
    if len(url) > 500 or len(text) > 5000:
        raise ValidationFailed("A link is at most 500 characters and a text at most 5,000.", fields={"proof": ["Too long."]})
    validate_proof_file(upload)
    now = timezone.now()
    _expire_if_due(assignment, now)
    with transaction.atomic():
        # The ask's row first, as approval and closing take it: an instant approval that
        # fills the ask then withdraws the others without a deadlock.
        Ask.objects.select_for_update().filter(pk=assignment.ask_id, workspace_id=assignment.workspace_id).first()
        fresh = _claim(assignment, S.SUBMITTED, submitted_at=now, proof_url=url, proof_text=text)
        if upload is not None:
            fresh.proof_file.save(os.path.basename(upload.name)[-100:], upload, save=False)
            Assignment.objects.filter(pk=fresh.pk).update(proof_file=fresh.proof_file.name)
        log_action(workspace=fresh.advocate.workspace, actor=actor, action="assignment.submitted", advocate=fresh.advocate,
                   message=f"Submitted proof for “{fresh.ask.title}”", data={"assignment": fresh.pk})
        if not fresh.ask.needs_approval:
            return approve_assignment(assignment=fresh, actor=None)
    return fresh


@transaction.atomic
def approve_assignment(*, assignment: Assignment, actor) -> Assignment:
    """Approve the proof: credits the ask's points exactly once, counts the badge facts,
    thanks the advocate, and closes the ask when it is filled."""
    now = timezone.now()
    # Approvals of one ask queue on its row, so the filled-ask check below counts them all.
    Ask.objects.select_for_update().filter(pk=assignment.ask_id, workspace_id=assignment.workspace_id).first()
    fresh = _claim(assignment, S.APPROVED, decided_at=now, decided_by=_user(actor))
    ask, advocate = fresh.ask, fresh.advocate
    if ask.points:
        entry = credit_points(
            advocate=advocate, amount=ask.points, kind=EntryKind.EARN_ASK, reason=f"Completed: {ask.title}"[:300],
            idempotency_key=f"assignment:{fresh.pk}", cause=f"assignment:{fresh.pk}", actor=actor, program_id=ask.program_id,
        )
        Assignment.objects.filter(pk=fresh.pk).update(points_entry_id=entry.pk)
        fresh.points_entry_id = entry.pk
    record_fact(advocate=advocate, fact="asks_completed")
    if ask.kind in FACTS_BY_KIND:
        record_fact(advocate=advocate, fact=FACTS_BY_KIND[ask.kind])
    log_action(workspace=advocate.workspace, actor=actor, action="assignment.approved", advocate=advocate,
               message=f"Approved “{ask.title}”" + (f"; {ask.points:,} points credited" if ask.points else ""),
               data={"assignment": fresh.pk, "points": ask.points})
    _close_if_filled(ask)
    from .notifications import send_assignment_email
    from .signals import assignment_approved

    transaction.on_commit(lambda: send_assignment_email(assignment_id=fresh.pk))
    transaction.on_commit(lambda: assignment_approved.send(sender=Assignment, assignment=fresh))
    return fresh


@transaction.atomic
def reject_assignment(*, assignment: Assignment, actor, reason: str) -> Assignment:
    """Refuse the proof, with a reason the advocate reads."""
    reject_nul(reason=reason)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed("Give a reason: the advocate sees it.", fields={"reason": ["Required."]})
    if len(reason) > 300:
        raise ValidationFailed("The reason is at most 300 characters.", fields={"reason": ["Too long."]})
    fresh = _claim(assignment, S.REJECTED, decided_at=timezone.now(), decided_by=_user(actor), reason=reason)
    log_action(workspace=fresh.advocate.workspace, actor=actor, action="assignment.rejected", advocate=fresh.advocate,
               message=f"Rejected the proof for “{fresh.ask.title}”: {reason}", data={"assignment": fresh.pk})
    from .notifications import send_assignment_email

    transaction.on_commit(lambda: send_assignment_email(assignment_id=fresh.pk))
    return fresh


@transaction.atomic
def withdraw_assignment(*, assignment: Assignment, actor, reason: str = "Withdrawn by a manager") -> Assignment:
    reject_nul(reason=reason)
    fresh = _claim(assignment, S.WITHDRAWN, decided_at=timezone.now(), decided_by=_user(actor), reason=reason[:300])
    log_action(workspace=fresh.advocate.workspace, actor=actor, action="assignment.withdrawn", advocate=fresh.advocate,
               message=f"Withdrew “{fresh.ask.title}”: {reason}", data={"assignment": fresh.pk})
    return fresh


# --- Jobs: expiry and reminders -----------------------------------------------------------


def expire_assignments(*, workspace: Workspace, now: datetime | None = None) -> int:
    """Offers not taken within 7 days, and offers or accepted work whose ask's deadline
    passed, become expired. Two set-based UPDATEs; a rerun finds nothing more to do."""
    now = now or timezone.now()
    untaken = Assignment.objects.filter(workspace=workspace, state=S.OFFERED, offer_expires_at__lte=now).update(
        state=S.EXPIRED, decided_at=now, reason=UNTAKEN,
    )
    late = Assignment.objects.filter(
        workspace=workspace, state__in=[s for s in states.sources_of(S.EXPIRED)], ask__deadline__lte=now,
    ).update(state=S.EXPIRED, decided_at=now, reason="The ask's deadline passed.")
    Ask.objects.filter(workspace=workspace, status=AskStatus.OPEN, deadline__lte=now).update(
        status=AskStatus.CLOSED, closed_at=now, closed_reason="deadline passed",
    )
    return untaken + late


REMIND_BEFORE_DAYS = 2


def send_reminders(*, workspace: Workspace, now: datetime | None = None) -> int:
    """Remind advocates of an offer that expires within two days, once per offer (the
    conditional claim on ``reminded_at`` makes a rerun send nothing)."""
    from datetime import timedelta

    from .notifications import send_assignment_email

    now = now or timezone.now()
    due = list(Assignment.objects.filter(
        workspace=workspace, state=S.OFFERED, reminded_at__isnull=True,
        offer_expires_at__gt=now, offer_expires_at__lte=now + timedelta(days=REMIND_BEFORE_DAYS),
    ).values_list("pk", flat=True))
    sent = 0
    for pk in due:
        with transaction.atomic():
            if Assignment.objects.filter(pk=pk, reminded_at__isnull=True).update(reminded_at=now):
                # Rendered and queued in the claim's transaction: a failure undoes the claim too.
                send_assignment_email(assignment_id=pk, template="offer_reminder")
                sent += 1
    return sent


# --- Outcomes ----------------------------------------------------------------------------

OUTCOME_FIELDS = ["kind", "deal_name", "amount", "deal_status", "url", "reach", "note"]


_DECIDED = (DealStatus.WON, DealStatus.LOST)


def _decision(outcome: Outcome) -> str:
    """``won``/``lost`` for a decided deal, ``""`` else."""
    return outcome.deal_status if outcome.kind == OutcomeKind.DEAL and outcome.deal_status in _DECIDED else ""


def _clean_outcome(data: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in OUTCOME_FIELDS}
    kind = data.get("kind")
    if kind not in OutcomeKind.values:
        raise ValidationFailed("Choose what it achieved: a deal, a published review or reach.", fields={"kind": ["Required."]})
    for key in ("deal_name", "url", "note"):
        data[key] = (data.get(key) or "").strip()
    reject_nul(deal_name=data["deal_name"], url=data["url"], note=data["note"])
    if kind == OutcomeKind.DEAL:
        if not data["deal_name"]:
            raise ValidationFailed("Name the deal.", fields={"deal_name": ["Required for a deal."]})
        try:
            amount = Decimal(str(data.get("amount"))).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError, TypeError):
            amount = None
        if amount is None or not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 12:
            raise ValidationFailed("Give the deal's amount: a number, 0 or more.", fields={"amount": ["Required for a deal."]})
        data["amount"] = amount
        if data.get("deal_status") not in DealStatus.values:
            raise ValidationFailed("Say whether the deal is open, won or lost.", fields={"deal_status": ["Required for a deal."]})
        data.update(url="", reach=None)
    elif kind == OutcomeKind.REVIEW:
        if not data["url"].lower().startswith(("http://", "https://")):
            raise ValidationFailed("Give the published review's link (http:// or https://).", fields={"url": ["Required for a review."]})
        data.update(deal_name="", amount=None, deal_status="", reach=None)
    else:
        reach = data.get("reach")
        if not isinstance(reach, int) or isinstance(reach, bool) or reach < 1:
            raise ValidationFailed("Give how many people it reached.", fields={"reach": ["Required for reach."]})
        data.update(deal_name="", amount=None, deal_status="")
    return data


@transaction.atomic
def record_outcome(*, assignment: Assignment, actor, data: dict[str, Any]) -> Outcome:
    """Record what an approved assignment achieved; the advocate sees it in their impact
    feed and gets an email."""
    assignment = Assignment.objects.select_related("ask", "advocate", "advocate__workspace").get(
        pk=assignment.pk, workspace_id=assignment.workspace_id)
    if assignment.state != S.APPROVED:
        raise InvalidTransition(f"Outcomes are recorded on approved assignments; this one is {assignment.get_state_display().lower()}.")
    data = _clean_outcome(data)
    decided = timezone.now() if data.get("kind") == OutcomeKind.DEAL and data.get("deal_status") in _DECIDED else None
    outcome = Outcome.objects.create(workspace_id=assignment.workspace_id, assignment=assignment, program_id=assignment.program_id,
                                     advocate=assignment.advocate, recorded_by=_user(actor), decided_at=decided, **data)
    log_action(workspace=assignment.advocate.workspace, actor=actor, action="outcome.recorded", advocate=assignment.advocate,
               message=f"Outcome recorded for “{assignment.ask.title}”: {describe_outcome(outcome)}",
               data={"outcome": outcome.pk, "assignment": assignment.pk})
    from .notifications import send_impact_email

    transaction.on_commit(lambda: send_impact_email(outcome_id=outcome.pk))
    _outcome_changed(outcome, previous_decided_at=None)
    return outcome


def _outcome_changed(outcome: Outcome, *, previous_decided_at) -> None:
    from .signals import outcome_changed

    transaction.on_commit(lambda: outcome_changed.send(sender=Outcome, outcome=outcome,
                                                       previous_decided_at=previous_decided_at))


@transaction.atomic
def update_outcome(*, outcome: Outcome, actor, data: dict[str, Any]) -> Outcome:
    """Change an outcome (e.g. the deal was won). The advocate is told when a deal is won."""
    outcome = Outcome.objects.select_for_update().get(pk=outcome.pk, workspace_id=outcome.workspace_id)
    was_won = outcome.deal_status == DealStatus.WON
    was_decided = _decision(outcome)
    data = _clean_outcome({f: getattr(outcome, f) for f in OUTCOME_FIELDS} | data)
    for k, v in data.items():
        setattr(outcome, k, v)
    outcome.updated_at = timezone.now()
    # decided_at moves only when the deal becomes won or lost (or is reopened): the day
    # revenue won counts on; fixing a typo later leaves it.
    decision = _decision(outcome)
    previous_decided_at = outcome.decided_at
    if decision != was_decided:
        outcome.decided_at = outcome.updated_at if decision else None
    outcome.save()
    _outcome_changed(outcome, previous_decided_at=previous_decided_at)
    log_action(workspace=outcome.advocate.workspace, actor=actor, action="outcome.updated", advocate=outcome.advocate,
               message=f"Outcome changed: {describe_outcome(outcome)}", data={"outcome": outcome.pk})
    if outcome.deal_status == DealStatus.WON and not was_won:
        from .notifications import send_impact_email

        transaction.on_commit(lambda: send_impact_email(outcome_id=outcome.pk))
    return outcome


def describe_outcome(outcome: Outcome) -> str:
    if outcome.kind == OutcomeKind.DEAL:
        return f"deal {outcome.deal_name} ({outcome.amount:,.2f}, {outcome.get_deal_status_display().lower()})"
    if outcome.kind == OutcomeKind.REVIEW:
        return f"review published at {outcome.url}"
    return f"reached {outcome.reach:,} people"


# --- Reads shared by the pages and the API ---------------------------------------------


@dataclass(frozen=True)
class AskProgress:
    approved: int
    in_progress: int
    outstanding: int
    wanted: int


def ask_progress(ask: Ask, counts: dict[str, int] | None = None) -> AskProgress:
    """PRODUCT.md's rotation formula: wanted = (capacity - approved - in progress) *
    overbook - outstanding offers (never below 0)."""
    if counts is None:
        counts = ask_counts([ask]).get(ask.pk, {})
    approved = counts.get(S.APPROVED, 0)
    in_progress = sum(counts.get(s, 0) for s in states.IN_PROGRESS)
    outstanding = sum(counts.get(s, 0) for s in states.OUTSTANDING)
    wanted = max(0, (ask.capacity - approved - in_progress) * ask.overbook - outstanding) if ask.status == AskStatus.OPEN else 0
    return AskProgress(approved, in_progress, outstanding, wanted)


def approval_queue(workspace: Workspace):
    """Submitted proof waiting for a manager, oldest first."""
    return (Assignment.objects.filter(workspace=workspace, state=S.SUBMITTED)
            .select_related("ask", "ask__program", "advocate").order_by("submitted_at", "id"))


def open_programs(workspace: Workspace):
    return Program.objects.filter(workspace=workspace).exclude(status=ProgramStatus.ARCHIVED)

