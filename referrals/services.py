"""Referrals' writes: leads and their states, the fraud rules, conversions and the
two-sided rewards (PRODUCT.md "Referrals"). Every front door (the API, the landing page's
lead endpoint, the manager pages) calls these functions.

States (one table, ``TRANSITIONS``): ``lead`` → ``qualified`` → ``converted``, or
``rejected`` with a reason; each change is a conditional ``UPDATE … WHERE state IN (…)``.

Fraud rules flag with a visible reason (``Referral.flags``: ``[{"rule", "reason"}]``)
instead of dropping anything:

- ``self_referral``: the referee's email is the advocate's, after lower-casing and dropping
  a ``+tag`` in the local part;
- ``duplicate``: the referee was already referred in the workspace (by the same or another
  code): the first referral wins, a later one is created ``rejected`` with
  "duplicate: already referred by …";
- ``existing_advocate``: the referee is already a person of the workspace (an Advocate row);
- ``existing_customer``: a conversion with the referee's email was already reported.

Conversions (``record_conversion``) are idempotent on the integration's external id (unique
per workspace). The referral is found by the referee's email: the one with the earliest
first touch within its program's attribution window before the conversion. The window
counts whole days: a first touch N days before the conversion (N = 0, 1, …) is counted
while N <= window (``conversion - first_touch < window + 1 days``), so with 90 days, day 90
is counted and day 91 is not. None: an unattributed conversion, without rewards.

Rewards, each exactly once: the referrer's points are held (``rewards.services.hold_points``
with key ``referral:<id>:referrer``) for the program's hold period and released by the
``release_held_rewards`` job; the referee gets points (held too, key
``referral:<id>:referee``, when they are an advocate of the workspace) or a coupon from the
program's pool (claimed with ``SELECT … FOR UPDATE SKIP LOCKED``). An empty pool flags the
referral and opens a follow-up task. A flagged referral is not rewarded until a manager
clears its flags (``clear_flags``); ``Referral.rewarded_at`` is claimed by a conditional
UPDATE so the referrer's side and the badge fact happen once.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from advocacy.audit import log_action
from advocacy.errors import Conflict, InvalidTransition, ValidationFailed, reject_nul
from advocacy.models import Advocate, Stage, TaskKind, Workspace
from advocacy.services.advocates import normalize_email
from advocacy.services.tasks import open_task
from programs.models import Program, ProgramStatus
from rewards.badges import record_fact
from rewards.models import EntryKind
from rewards.services import hold_points

from .models import Conversion, Coupon, Referral, ReferralCode, ReferralSettings, ReferralState

# --- The one transition table -----------------------------------------------------------------

TRANSITIONS: dict[str, set[str]] = {
    ReferralState.LEAD: {ReferralState.QUALIFIED, ReferralState.CONVERTED, ReferralState.REJECTED},
    ReferralState.QUALIFIED: {ReferralState.CONVERTED, ReferralState.REJECTED},
    ReferralState.CONVERTED: set(),
    ReferralState.REJECTED: set(),
}


def sources_of(target: str) -> list[str]:
    """The states from which ``target`` may be reached."""
    return [state for state, targets in TRANSITIONS.items() if target in targets]


SOURCES = {"form", "api"}
MAX_NAME = 200
MAX_REASON = 300
MAX_EXTERNAL_ID = 200
MAX_VALUE = Decimal("999999999999.99")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_COUPONS_PER_UPLOAD = 10_000
FUTURE_SKEW = timedelta(minutes=5)

# Rule names of Referral.flags.
SELF_REFERRAL = "self_referral"
DUPLICATE = "duplicate"
EXISTING_ADVOCATE = "existing_advocate"
EXISTING_CUSTOMER = "existing_customer"
COUPON_POOL_EMPTY = "coupon_pool_empty"
REFERRING_STAGES = {Stage.ACTIVE, Stage.PAUSED}  # as /r/ attributes (referrals/redirect.py)


class ReferralsClosed(Conflict):
    code = "referrals_closed"


# --- Helpers ------------------------------------------------------------------------------------


def canonical_email(email: str) -> str:
    """Lower-cased, with a ``+tag`` dropped from the local part: ``Ann+x@Y.com`` → ``ann@y.com``."""
    email = (email or "").strip().lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    return f"{local.split('+', 1)[0]}@{domain}"


def _text(value, field: str, *, max_length: int, required: bool = False) -> str:
    value = "" if value is None else str(value)
    reject_nul(**{field: value})
    value = value.strip()
    if len(value) > max_length:
        raise ValidationFailed(f"{field.replace('_', ' ').capitalize()} is at most {max_length} characters.",
                               fields={field: [f"At most {max_length} characters."]})
    if required and not value:
        raise ValidationFailed(f"{field.replace('_', ' ').capitalize()} is required.", fields={field: ["Required."]})
    return value


def _email(value, field: str = "referee_email") -> str:
    value = _text(value, field, max_length=254, required=True)
    try:
        return normalize_email(value)
    except ValidationFailed:
        raise ValidationFailed(f"“{value[:100]}” is not a valid email address.", fields={field: ["Enter a valid email address."]}) from None


def _lock_key(workspace_id: int, email: str) -> None:
    """Serialise the writes about one referee of one workspace (Postgres advisory lock for the
    transaction; SQLite, the demo's database, serialises writes anyway)."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"referee:{workspace_id}:{email}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _flag(rule: str, reason: str) -> dict:
    return {"rule": rule, "reason": reason[:MAX_REASON]}


def settings_for(program: Program) -> ReferralSettings:
    """The program's referral settings, created with the defaults the first time."""
    found = ReferralSettings.objects.filter(workspace_id=program.workspace_id, program=program).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return ReferralSettings.objects.create(workspace_id=program.workspace_id, program=program)
    except IntegrityError:  # created concurrently
        return ReferralSettings.objects.get(workspace_id=program.workspace_id, program=program)


def window_days(settings: ReferralSettings, workspace: Workspace) -> int:
    return settings.attribution_window_days or workspace.attribution_window_days or 90


def within_window(first_touch_at: datetime, occurred_at: datetime, days: int) -> bool:
    """Whether a first touch counts for a conversion at ``occurred_at``: it is not after it, and
    it is at most ``days`` whole days before it (day ``days`` counts, day ``days + 1`` not)."""
    return first_touch_at <= occurred_at and occurred_at - first_touch_at < timedelta(days=days + 1)


def code_is_live(code: ReferralCode) -> bool:
    """A code attributes only for an active program and an active or paused advocate (a
    paused one asked for a rest from asks, not to stop referring), as the /r/ redirect does."""
    advocate = code.advocate
    return (code.program.status == ProgramStatus.ACTIVE and advocate.stage in REFERRING_STAGES
            and advocate.erased_at is None)


# --- Leads ----------------------------------------------------------------------------------------


@transaction.atomic
def create_referral(
    *, code: ReferralCode, referee_email, referee_name="", referee_company="", source: str = "form", actor=None,
    at: datetime | None = None,
) -> Referral:
    """A referred person (a lead) through ``code``, with the fraud rules applied.

    A flagged referral is still created (state ``lead``) and carries its flags; a duplicate
    referee is created ``rejected``. The same referee through the same code again returns
    the referral already made (``created`` is False on it): a landing form posted twice
    makes one lead. Raises ValidationFailed for bad input, ReferralsClosed (409) for a code
    of a program that is not active or of an advocate who is not active or paused.
    """
    email = _email(referee_email)
    name = _text(referee_name, "referee_name", max_length=MAX_NAME)
    company = _text(referee_company, "referee_company", max_length=MAX_NAME)
    if source not in SOURCES:
        raise ValidationFailed("The source is “form” or “api”.", fields={"source": ["Invalid."]})
    code = ReferralCode.objects.select_related("program", "advocate", "workspace").get(pk=code.pk)
    if not code_is_live(code):
        raise ReferralsClosed("This referral link no longer takes referrals.")
    workspace = code.workspace
    at = at or timezone.now()
    _lock_key(workspace.pk, email)

    earlier = list(
        Referral.objects.filter(workspace=workspace, referee_email=email).exclude(state=ReferralState.REJECTED)
        .select_related("advocate").order_by("first_touch_at", "id")[:5]
    )
    for previous in earlier:
        if previous.code_id == code.pk:
            previous.created = False
            return previous

    flags: list[dict] = []
    state, reason = ReferralState.LEAD, ""
    advocate = code.advocate
    if canonical_email(email) == canonical_email(advocate.email):
        flags.append(_flag(SELF_REFERRAL, "Self-referral: the referee's email is the advocate's own."))
    if earlier:
        first = earlier[0]
        reason = f"duplicate: already referred by {first.advocate.display_name} on {first.first_touch_at:%Y-%m-%d}"
        flags.append(_flag(DUPLICATE, reason))
        state = ReferralState.REJECTED
    if Advocate.objects.filter(workspace=workspace).annotate(e=Lower("email")).filter(e=email).exists():
        flags.append(_flag(EXISTING_ADVOCATE, "The referee is already a person of this workspace (an advocate or customer)."))
    elif Conversion.objects.filter(workspace=workspace, referee_email=email).exists():
        flags.append(_flag(EXISTING_CUSTOMER, "The referee is already a customer: a conversion was reported for this email."))

    referral = Referral.objects.create(
        workspace=workspace, code=code, program=code.program, advocate=advocate, referee_email=email,
        referee_name=name, referee_company=company, state=state, reason=reason[:MAX_REASON], flags=flags, source=source,
        first_touch_at=at, created_at=at, decided_at=at if state == ReferralState.REJECTED else None,
    )
    referral.created = True
    return referral


def _transition(referral: Referral, target: str, **fields) -> Referral:
    """Move ``referral`` to ``target`` with a conditional UPDATE, or raise InvalidTransition."""
    sources = sources_of(target)
    updated = Referral.objects.filter(pk=referral.pk, workspace_id=referral.workspace_id, state__in=sources).update(
        state=target, **fields,
    )
    if not updated:
        referral.refresh_from_db(fields=["state"])
        raise InvalidTransition(
            f"A {referral.get_state_display().lower()} referral cannot become {ReferralState(target).label.lower()}.",
        )
    referral.refresh_from_db()
    return referral


@transaction.atomic
def qualify_referral(*, referral: Referral, actor) -> Referral:
    """lead → qualified (the referee is a real opportunity)."""
    now = timezone.now()
    referral = _transition(referral, ReferralState.QUALIFIED, qualified_at=now, decided_at=now)
    log_action(workspace=referral.workspace, actor=actor, action="referral.qualified", advocate=referral.advocate,
               message=f"Referral of {referral.referee_email} qualified", data={"referral": referral.pk})
    return referral


@transaction.atomic
def reject_referral(*, referral: Referral, actor, reason: str) -> Referral:
    """lead or qualified → rejected, with a reason the advocate sees."""
    reason = _text(reason, "reason", max_length=MAX_REASON, required=True)
    referral = _transition(referral, ReferralState.REJECTED, reason=reason, decided_at=timezone.now())
    log_action(workspace=referral.workspace, actor=actor, action="referral.rejected", advocate=referral.advocate,
               message=f"Referral of {referral.referee_email} rejected: {reason}", data={"referral": referral.pk})
    return referral


@transaction.atomic
def clear_flags(*, referral: Referral, actor, note: str = "") -> Referral:
    """A manager approves a flagged referral: its flags are cleared (and kept in the audit
    log); a converted one then gets the rewards it was held back from, exactly once."""
    note = _text(note, "note", max_length=MAX_REASON)
    referral = Referral.objects.select_for_update().get(pk=referral.pk, workspace_id=referral.workspace_id)
    if not referral.flags:
        raise Conflict("This referral is not flagged.", code="not_flagged")
    if referral.state == ReferralState.REJECTED:
        raise InvalidTransition("A rejected referral stays rejected; its flags explain why.")
    cleared = referral.flags
    Referral.objects.filter(pk=referral.pk).update(flags=[])
    referral.flags = []
    log_action(
        workspace=referral.workspace, actor=actor, action="referral.flags_cleared", advocate=referral.advocate,
        message=f"Flags of the referral of {referral.referee_email} cleared" + (f": {note}" if note else ""),
        data={"referral": referral.pk, "flags": cleared},
    )
    if referral.state == ReferralState.CONVERTED:
        _grant_rewards(referral)
    referral.refresh_from_db()
    return referral


# --- Conversions ------------------------------------------------------------------------------


def _value(value) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationFailed("The value is a number.", fields={"value": ["Not a number."]}) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_VALUE:
        raise ValidationFailed("The value is a number from 0.", fields={"value": ["Out of range."]})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed("The value has at most two decimals.", fields={"value": ["At most two decimals."]})
    return amount.quantize(Decimal("0.01"))


def _attribute(workspace: Workspace, email: str, occurred_at: datetime) -> Referral | None:
    """The referral this conversion belongs to: the earliest first touch within its window."""
    candidates = (
        Referral.objects.filter(workspace=workspace, referee_email=email, state__in=sources_of(ReferralState.CONVERTED),
                                first_touch_at__lte=occurred_at)
        .select_related("program__referral_settings").order_by("first_touch_at", "id")
    )
    for referral in candidates[:50]:
        settings = getattr(referral.program, "referral_settings", None) or settings_for(referral.program)
        if within_window(referral.first_touch_at, occurred_at, window_days(settings, workspace)):
            return referral
    return None


def record_conversion(
    *, workspace: Workspace, external_id, referee_email, value, currency, occurred_at: datetime | None = None, actor=None,
) -> Conversion:
    """Record that a referee became a customer, once per external id: a repeat returns the
    first conversion (``created`` False) and changes nothing. Attributed to the referral of
    the earliest first touch within its window (which becomes converted and, unless flagged,
    rewarded), or unattributed."""
    external_id = _text(external_id, "external_id", max_length=MAX_EXTERNAL_ID, required=True)
    email = _email(referee_email)
    amount = _value(value)
    currency = _text(currency, "currency", max_length=3, required=True).upper()
    if not CURRENCY.match(currency):
        raise ValidationFailed("The currency is a three-letter ISO 4217 code, e.g. EUR.", fields={"currency": ["Three letters."]})
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + FUTURE_SKEW:
        raise ValidationFailed("A conversion cannot have occurred in the future.", fields={"occurred_at": ["In the future."]})

    existing = Conversion.objects.filter(workspace=workspace, external_id=external_id).first()
    if existing is not None:
        existing.created = False
        return existing
    try:
        with transaction.atomic():
            # A concurrent twin waits here on the unique index until this one commits, then fails.
            conversion = Conversion.objects.create(
                workspace=workspace, external_id=external_id, referee_email=email, value=amount, currency=currency,
                attributed=False, occurred_at=occurred_at, created_at=now,
            )
            _lock_key(workspace.pk, email)
            referral = _attribute(workspace, email, occurred_at)
            if referral is not None:
                try:
                    referral = _transition(referral, ReferralState.CONVERTED, converted_at=now)
                except InvalidTransition:  # a manager rejected it meanwhile: the conversion stays unattributed
                    referral = None
            if referral is not None:
                Conversion.objects.filter(pk=conversion.pk).update(referral=referral, attributed=True)
                conversion.referral, conversion.attributed = referral, True
                if not referral.flags:
                    _grant_rewards(referral)
    except IntegrityError:
        existing = Conversion.objects.filter(workspace=workspace, external_id=external_id).first()
        if existing is None:
            raise
        existing.created = False
        return existing
    conversion.created = True
    from .signals import conversion_recorded

    transaction.on_commit(lambda: conversion_recorded.send(sender=Conversion, conversion=conversion))
    return conversion


# --- Rewards ----------------------------------------------------------------------------------


def _grant_rewards(referral: Referral) -> None:
    """Both sides' rewards of a converted, unflagged referral. Safe to call again: the
    referrer's side is claimed once through ``rewarded_at``; the referee's points are keyed
    and a coupon is given at most once per referral."""
    settings = settings_for(referral.program)
    now = timezone.now()
    release_at = now + timedelta(days=settings.hold_days)
    held_because = (f"Referral points are held for {settings.hold_days} days after the conversion, "
                    f"until {release_at:%Y-%m-%d}." if settings.hold_days else "Released by the next run of the rewards job.")
    if Referral.objects.filter(pk=referral.pk, rewarded_at__isnull=True).update(rewarded_at=now):
        if settings.referrer_points:
            hold_points(
                advocate=referral.advocate, amount=settings.referrer_points, kind=EntryKind.EARN_REFERRAL,
                reason=f"Referral of {referral.referee_email} converted", held_because=held_because,
                release_at=release_at, idempotency_key=f"referral:{referral.pk}:referrer", cause=f"referral:{referral.pk}",
            )
        record_fact(advocate=referral.advocate, fact="referrals_converted")
    if settings.referee_reward == ReferralSettings.RefereeReward.POINTS and settings.referee_points:
        referee = Advocate.objects.filter(workspace_id=referral.workspace_id).annotate(e=Lower("email")) \
            .filter(e=referral.referee_email, erased_at__isnull=True).first()
        if referee is not None:
            hold_points(
                advocate=referee, amount=settings.referee_points, kind=EntryKind.EARN_REFERRAL,
                reason=f"Welcome reward: referred by {referral.advocate.display_name}", held_because=held_because,
                release_at=release_at, idempotency_key=f"referral:{referral.pk}:referee", cause=f"referral:{referral.pk}",
            )
    elif settings.referee_reward == ReferralSettings.RefereeReward.COUPON:
        _give_coupon(referral)


def _give_coupon(referral: Referral) -> Coupon | None:
    """Claim a free coupon of the program for the referee, or flag an empty pool and tell a
    manager."""
    given = Coupon.objects.filter(workspace_id=referral.workspace_id, referral=referral).first()
    if given is not None:
        return given
    free = (Coupon.objects.filter(workspace_id=referral.workspace_id, program_id=referral.program_id, referral__isnull=True)
            .select_for_update(skip_locked=True).order_by("id").first())
    if free is not None:
        Coupon.objects.filter(pk=free.pk, referral__isnull=True).update(referral=referral, assigned_at=timezone.now())
        free.referral = referral
        return free
    program = referral.program
    flags = [f for f in referral.flags if f.get("rule") != COUPON_POOL_EMPTY]
    flags.append(_flag(COUPON_POOL_EMPTY, f"The coupon pool of {program.name} was empty at the conversion; "
                                          "a manager adds coupons, then clears this flag to give one."))
    Referral.objects.filter(pk=referral.pk).update(flags=flags)
    referral.flags = flags
    open_task(
        workspace=referral.workspace, kind=TaskKind.FOLLOW_UP, advocate=referral.advocate,
        title=f"Coupon pool of {program.name} is empty",
        detail=(f"The referral of {referral.referee_email} converted but no coupon was left for the referee. "
                "Upload coupon codes to the program, then clear the referral's flag to give one."),
        dedupe_key=f"referral:{referral.pk}:coupon-pool-empty",
    )
    return None


@transaction.atomic
def add_coupons(*, program: Program, codes: list[str], actor) -> int:
    """Add coupon codes to the program's pool; codes already there are skipped. Returns how
    many were added."""
    if not isinstance(codes, list | tuple):
        raise ValidationFailed("Give a list of coupon codes.", fields={"codes": ["A list."]})
    cleaned: dict[str, None] = {}
    for raw in codes:
        code = _text(raw, "codes", max_length=100)
        if code:
            cleaned[code] = None
    if not cleaned:
        raise ValidationFailed("Give at least one coupon code.", fields={"codes": ["Empty."]})
    if len(cleaned) > MAX_COUPONS_PER_UPLOAD:
        raise ValidationFailed(f"At most {MAX_COUPONS_PER_UPLOAD:,} codes at a time.", fields={"codes": ["Too many."]})
    before = Coupon.objects.filter(workspace_id=program.workspace_id, program=program).count()
    Coupon.objects.bulk_create(
        [Coupon(workspace_id=program.workspace_id, program=program, code=code) for code in cleaned], ignore_conflicts=True,
    )
    added = Coupon.objects.filter(workspace_id=program.workspace_id, program=program).count() - before
    log_action(workspace=program.workspace, actor=actor, action="referral.coupons_added",
               message=f"{added} coupon code{'s' if added != 1 else ''} added to {program.name}",
               data={"program": program.pk, "added": added})
    return added

