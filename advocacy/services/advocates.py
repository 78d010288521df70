"""Advocates: create, update, stage changes, tags, preferences, export and erasure."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..audit import log_action
from ..errors import Conflict, InvalidTransition, ValidationFailed
from ..models import (
    ActivityEvent,
    Advocate,
    AdvocateTag,
    AuditLog,
    Channel,
    Stage,
    Tag,
    User,
    Workspace,
)

# The one place that says which stage may follow which (PRODUCT.md "Stages").
# ``opted_out`` is reachable from every stage and is final: such people are never contacted.
STAGE_TRANSITIONS: dict[str, set[str]] = {
    Stage.CANDIDATE: {Stage.INVITED, Stage.ACTIVE, Stage.OPTED_OUT},
    Stage.INVITED: {Stage.ACTIVE, Stage.CANDIDATE, Stage.OPTED_OUT},
    Stage.ACTIVE: {Stage.PAUSED, Stage.ALUMNI, Stage.OPTED_OUT},
    Stage.PAUSED: {Stage.ACTIVE, Stage.ALUMNI, Stage.OPTED_OUT},
    Stage.ALUMNI: {Stage.ACTIVE, Stage.OPTED_OUT},
    Stage.OPTED_OUT: set(),
}

EDITABLE_FIELDS = (
    "name", "email", "company", "title", "type", "external_id", "customer_since",
    "renewal_date", "motivation", "expressiveness", "max_asks_per_month", "channels",
    "preferred_ask_kinds", "show_on_leaderboards",
)

MAX_TAG_LENGTH = 50


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(f"“{email}” is not a valid email address.", fields={"email": ["Enter a valid email address."]}) from None
    return email


def normalize_tags(names: Iterable[str]) -> list[str]:
    """Trimmed, lower-cased, de-duplicated tag names, in their given order."""
    seen: dict[str, None] = {}
    for raw in names:
        name = " ".join(str(raw).split()).lower()
        if not name:
            continue
        if len(name) > MAX_TAG_LENGTH:
            raise ValidationFailed(f"Tag “{name[:20]}…” is longer than {MAX_TAG_LENGTH} characters.", fields={"tags": ["Tag too long."]})
        seen[name] = None
    return list(seen)


def allowed_next_stages(advocate: Advocate) -> list[str]:
    return [s for s in Stage.values if s in STAGE_TRANSITIONS[advocate.stage]]


def _check_unique(workspace: Workspace, *, email: str, external_id: str | None, exclude_pk: int | None = None) -> None:
    others = Advocate.objects.filter(workspace=workspace)
    if exclude_pk:
        others = others.exclude(pk=exclude_pk)
    if others.filter(email__iexact=email).exists():
        raise Conflict(f"An advocate with the email {email} already exists.", code="duplicate_email", fields={"email": ["Already in use."]})
    if external_id and others.filter(external_id=external_id).exists():
        raise Conflict(f"An advocate with the external id “{external_id}” already exists.", code="duplicate_external_id", fields={"external_id": ["Already in use."]})


def _clean_fields(data: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    if "email" in data:
        data["email"] = normalize_email(data["email"])
    if "external_id" in data:
        data["external_id"] = (data["external_id"] or "").strip() or None
    if "channels" in data:
        bad = [c for c in data["channels"] or [] if c not in Channel.values]
        if bad:
            raise ValidationFailed(f"Unknown channel(s): {', '.join(map(str, bad))}.", fields={"channels": ["Use email and/or portal."]})
        data["channels"] = sorted(set(data["channels"] or []))
    for text in ("name", "company", "title"):
        if text in data:
            data[text] = (data[text] or "").strip()
    return data


@transaction.atomic
def create_advocate(*, workspace: Workspace, actor, data: dict[str, Any], tags: Iterable[str] = (), stage: str = Stage.CANDIDATE) -> Advocate:
    data = _clean_fields(data)
    if "email" not in data:
        raise ValidationFailed("An email address is required.", fields={"email": ["This field is required."]})
    if stage not in Stage.values:
        raise ValidationFailed(f"Unknown stage “{stage}”.", fields={"stage": ["Invalid stage."]})
    _check_unique(workspace, email=data["email"], external_id=data.get("external_id"))
    advocate = Advocate(workspace=workspace, stage=stage, **data)
    try:
        advocate.full_clean(exclude=["workspace", "user"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationFailed("Check the highlighted fields.", fields=exc.message_dict) from None
    try:
        with transaction.atomic():
            advocate.save()
    except IntegrityError:  # a concurrent create with the same email or external id
        raise Conflict(f"An advocate with the email {data['email']} already exists.", code="duplicate_email") from None
    if tags:
        set_tags(workspace=workspace, advocates=[advocate], names=tags, mode="replace", actor=None)
    log_action(workspace=workspace, actor=actor, action="advocate.created", advocate=advocate, message=f"Added as {advocate.get_stage_display().lower()}")
    return advocate


@transaction.atomic
def update_advocate(*, advocate: Advocate, actor, data: dict[str, Any], tags: Iterable[str] | None = None) -> Advocate:
    if advocate.is_erased:
        raise Conflict("This advocate was erased and can no longer be changed.", code="erased")
    data = _clean_fields(data)
    if "email" in data or "external_id" in data:
        _check_unique(
            advocate.workspace, email=data.get("email", advocate.email),
            external_id=data.get("external_id", advocate.external_id), exclude_pk=advocate.pk,
        )
    changed = {}
    for field, value in data.items():
        if getattr(advocate, field) != value:
            changed[field] = [_plain(getattr(advocate, field)), _plain(value)]
            setattr(advocate, field, value)
    try:
        advocate.full_clean(exclude=["workspace", "user"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationFailed("Check the highlighted fields.", fields=exc.message_dict) from None
    if changed:
        try:
            with transaction.atomic():
                advocate.save()
        except IntegrityError:
            raise Conflict("Another advocate already has this email or external id.", code="duplicate") from None
        log_action(
            workspace=advocate.workspace, actor=actor, action="advocate.updated", advocate=advocate,
            message="Changed " + ", ".join(sorted(changed)), data=changed,
        )
    if tags is not None:
        set_tags(workspace=advocate.workspace, advocates=[advocate], names=tags, mode="replace", actor=actor)
    return advocate


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _stage_changed(advocate: Advocate) -> None:
    from ..signals import advocate_stage_changed

    transaction.on_commit(lambda: advocate_stage_changed.send(sender=Advocate, advocate=advocate))


@transaction.atomic
def change_stage(*, advocate: Advocate, stage: str, actor, reason: str = "") -> Advocate:
    """Move an advocate to ``stage`` if the lifecycle allows it; otherwise InvalidTransition."""
    if stage not in Stage.values:
        raise ValidationFailed(f"Unknown stage “{stage}”.", fields={"stage": ["Invalid stage."]})
    current = Advocate.objects.select_for_update().get(pk=advocate.pk)
    if current.stage == stage:
        return current
    if stage not in STAGE_TRANSITIONS[current.stage]:
        raise InvalidTransition(
            f"An advocate who is {current.get_stage_display().lower()} cannot become "
            f"{Stage(stage).label.lower()}."
        )
    old = current.get_stage_display()
    current.stage = stage
    current.stage_changed_at = timezone.now()
    current.save(update_fields=["stage", "stage_changed_at", "updated_at"])
    message = f"Stage: {old} → {current.get_stage_display()}"
    if reason:
        message += f" ({reason})"
    log_action(workspace=current.workspace, actor=actor, action="advocate.stage_changed", advocate=current, message=message, data={"from": advocate.stage, "to": stage})
    _stage_changed(current)
    advocate.stage, advocate.stage_changed_at = current.stage, current.stage_changed_at
    return current


def ensure_tags(workspace: Workspace, names: Iterable[str]) -> dict[str, Tag]:
    names = normalize_tags(names)
    if not names:
        return {}
    Tag.objects.bulk_create([Tag(workspace=workspace, name=n) for n in names], ignore_conflicts=True)
    return {t.name: t for t in Tag.objects.filter(workspace=workspace, name__in=names)}


@transaction.atomic
def set_tags(*, workspace: Workspace, advocates: Iterable[Advocate], names: Iterable[str], mode: str, actor) -> int:
    """Add, remove or replace tags on many advocates at once. Returns advocates touched."""
    if mode not in {"add", "remove", "replace"}:
        raise ValidationFailed("Choose to add or remove the tags.")
    advocate_ids = [a.pk for a in advocates]
    if not advocate_ids:
        return 0
    names = normalize_tags(names)
    if mode == "remove":
        tags = Tag.objects.filter(workspace=workspace, name__in=names)
        AdvocateTag.objects.filter(workspace=workspace, advocate_id__in=advocate_ids, tag__in=tags).delete()
    else:
        tags_by_name = ensure_tags(workspace, names)
        if mode == "replace":
            AdvocateTag.objects.filter(workspace=workspace, advocate_id__in=advocate_ids).exclude(tag__in=tags_by_name.values()).delete()
        AdvocateTag.objects.bulk_create(
            [AdvocateTag(workspace=workspace, advocate_id=a, tag=t) for a in advocate_ids for t in tags_by_name.values()],
            ignore_conflicts=True,
        )
    if actor is not None and mode != "replace":
        verb = "added" if mode == "add" else "removed"
        AuditLog.objects.bulk_create([
            AuditLog(workspace=workspace, actor=actor, actor_label=actor.email, action=f"advocate.tags_{verb}",
                     advocate_id=a, message=f"Tags {verb}: {', '.join(names)}")
            for a in advocate_ids
        ])
    return len(advocate_ids)


@transaction.atomic
def update_preferences(*, advocate: Advocate, data: dict[str, Any]) -> Advocate:
    """The advocate changes their own preferences from the portal."""
    allowed = {"max_asks_per_month", "channels", "preferred_ask_kinds", "show_on_leaderboards"}
    data = {k: v for k, v in data.items() if k in allowed}
    return update_advocate(advocate=advocate, actor=advocate.user, data=data)


def pause_self(*, advocate: Advocate) -> Advocate:
    return change_stage(advocate=advocate, stage=Stage.PAUSED, actor=advocate.user, reason="paused by the advocate")


def resume_self(*, advocate: Advocate) -> Advocate:
    return change_stage(advocate=advocate, stage=Stage.ACTIVE, actor=advocate.user, reason="resumed by the advocate")


def leave_program(*, advocate: Advocate) -> Advocate:
    return change_stage(advocate=advocate, stage=Stage.OPTED_OUT, actor=advocate.user, reason="left the program")


def export_advocate_data(advocate: Advocate) -> dict[str, Any]:
    """Everything the workspace holds about one person, for a data-access request."""
    fields = [
        "name", "email", "company", "title", "type", "external_id", "customer_since", "renewal_date",
        "motivation", "expressiveness", "stage", "stage_changed_at", "max_asks_per_month", "channels",
        "preferred_ask_kinds", "show_on_leaderboards", "score", "score_breakdown", "last_asked_at",
        "last_activity_at", "points_balance", "lifetime_points", "tier", "created_at", "updated_at",
    ]
    return {
        "workspace": advocate.workspace.slug,
        "exported_at": timezone.now().isoformat(),
        "advocate": {"id": advocate.pk, **{f: _plain(getattr(advocate, f)) for f in fields}},
        "tags": [t.name for t in advocate.tags.all()],
        "events": [
            {"kind": e.kind, "occurred_at": e.occurred_at.isoformat(), "value": str(e.value) if e.value is not None else None, "properties": e.properties}
            for e in ActivityEvent.objects.filter(advocate=advocate).order_by("occurred_at").iterator(chunk_size=2000)
        ],
        "history": [
            {"at": a.created_at.isoformat(), "action": a.action, "message": a.message}
            for a in AuditLog.objects.filter(advocate=advocate).order_by("created_at")
        ],
    }


@transaction.atomic
def erase_advocate(*, advocate: Advocate, actor) -> Advocate:
    """Anonymise personal fields. The row, its ledger and its counts stay, so totals and
    metrics keep adding up; the person can no longer be identified or contacted."""
    advocate = Advocate.objects.select_for_update().get(pk=advocate.pk)
    if advocate.is_erased:
        return advocate
    user: User | None = advocate.user
    advocate.name = "Erased advocate"
    advocate.email = f"erased-{advocate.pk}@erased.invalid"
    advocate.company = advocate.title = ""
    advocate.external_id = None
    advocate.customer_since = advocate.renewal_date = None
    advocate.user = None
    advocate.channels = []
    advocate.preferred_ask_kinds = []
    advocate.show_on_leaderboards = False
    advocate.score_breakdown = {}
    advocate.stage = Stage.OPTED_OUT
    advocate.stage_changed_at = advocate.erased_at = timezone.now()
    advocate.save()
    AdvocateTag.objects.filter(advocate=advocate).delete()
    ActivityEvent.objects.filter(advocate=advocate).update(properties={})
    AuditLog.objects.filter(advocate=advocate).update(data={})
    log_action(workspace=advocate.workspace, actor=actor, action="advocate.erased", advocate=advocate, message="Personal data erased on request")
    from ..signals import advocate_erased

    advocate_erased.send(sender=Advocate, advocate=advocate)
    _stage_changed(advocate)
    if (
        user is not None
        and not user.memberships.exists()
        and not Advocate.objects.with_scopes_disabled().filter(user=user).exists()
    ):
        user.is_active = False
        user.email = f"erased-user-{user.pk}@erased.invalid"
        user.first_name = user.last_name = ""
        user.set_unusable_password()
        user.save()
        user.emailaddress_set.all().delete()
    return advocate
