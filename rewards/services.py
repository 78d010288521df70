"""The ledger's one service API. Every other app credits and debits points through
``credit_points`` and ``debit_points``; nothing else writes ledger entries or balances.

Exactly once: each entry carries an idempotency key unique per workspace. The balance
update and the entry insert run in one savepoint; a concurrent call with the same key
waits on the advocate's row, then fails on the unique key, its savepoint (and so its
balance change) is rolled back, and it returns the entry the first call wrote.

Never below zero: a debit is a conditional ``UPDATE … SET points_balance = points_balance
- n WHERE points_balance >= n``, backed by ``CHECK (points_balance >= 0)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from advocacy.audit import log_action
from advocacy.errors import Conflict, ValidationFailed
from advocacy.models import Advocate, Workspace

from .models import CREDIT_KINDS, DEBIT_KINDS, EARN_KINDS, EntryKind, HeldReward, LedgerEntry, Tier

MAX_AMOUNT = 10_000_000


class NotEnoughPoints(Conflict):
    code = "not_enough_points"


def _actor_fields(actor) -> dict:
    is_user = actor is not None and getattr(actor, "pk", None) and hasattr(actor, "email")
    return {"actor": actor if is_user else None, "actor_label": (getattr(actor, "email", "") or str(actor)) if actor else "system"}


def _validate(amount: int, reason: str, idempotency_key: str) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or amount > MAX_AMOUNT:
        raise ValidationFailed(f"Points must be a whole number from 1 to {MAX_AMOUNT:,}.", fields={"amount": ["Out of range."]})
    if not (reason or "").strip():
        raise ValidationFailed("Give a reason: the advocate sees it in their history.", fields={"reason": ["Required."]})
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationFailed("An idempotency key of 1 to 200 characters is required.", fields={"idempotency_key": ["Required."]})


def _existing(workspace_id: int, key: str) -> LedgerEntry | None:
    """The entry already written under this key, marked ``replayed``."""
    entry = LedgerEntry.objects.filter(workspace_id=workspace_id, idempotency_key=key).first()
    if entry is not None:
        entry.replayed = True
    return entry


def _post(
    *, advocate: Advocate, kind: str, signed: int, reason: str, cause: str, actor, idempotency_key: str, program_id: int | None = None,
) -> LedgerEntry:
    """Move the balance and append the entry, exactly once per idempotency key."""
    workspace_id = advocate.workspace_id
    previous = _existing(workspace_id, idempotency_key)
    if previous is not None:
        return previous
    earned = signed if (kind in EARN_KINDS or (kind == EntryKind.ADJUST and signed > 0)) else 0
    try:
        with transaction.atomic():
            rows = Advocate.objects.filter(pk=advocate.pk, workspace_id=workspace_id)
            if signed < 0:
                rows = rows.filter(points_balance__gte=-signed)
            if not rows.update(points_balance=F("points_balance") + signed, lifetime_points=F("lifetime_points") + earned):
                balance = Advocate.objects.values_list("points_balance", flat=True).get(pk=advocate.pk)
                raise NotEnoughPoints(f"Not enough points: this needs {-signed:,} and the balance is {balance:,}.")
            balance, lifetime = Advocate.objects.values_list("points_balance", "lifetime_points").get(pk=advocate.pk)
            entry = LedgerEntry.objects.create(
                workspace_id=workspace_id, advocate=advocate, kind=kind, amount=signed, reason=reason.strip()[:300],
                cause=cause[:100], idempotency_key=idempotency_key, balance_after=balance, program_id=program_id,
                **_actor_fields(actor),
            )
    except IntegrityError:
        # A concurrent call with the same key committed first: its entry stands, ours is undone.
        previous = _existing(workspace_id, idempotency_key)
        if previous is None:
            raise
        return previous
    entry.replayed = False
    advocate.points_balance, advocate.lifetime_points = balance, lifetime
    if earned:
        update_tier(advocate=advocate)
    return entry


def credit_points(
    *, advocate: Advocate, amount: int, kind: str, reason: str, idempotency_key: str, cause: str = "", actor=None,
    program_id: int | None = None,
) -> LedgerEntry:
    """Add ``amount`` points. Repeating a call with the same key returns the first entry.
    ``program_id`` attributes earned points to a program (per-program leaderboards)."""
    if kind not in CREDIT_KINDS:
        raise ValidationFailed(f"“{kind}” is not a kind of credit.")
    _validate(amount, reason, idempotency_key)
    return _post(advocate=advocate, kind=kind, signed=amount, reason=reason, cause=cause, actor=actor,
                 idempotency_key=idempotency_key, program_id=program_id)


def debit_points(
    *, advocate: Advocate, amount: int, kind: str, reason: str, idempotency_key: str, cause: str = "", actor=None,
) -> LedgerEntry:
    """Take ``amount`` points, or raise NotEnoughPoints; the balance never goes below zero."""
    if kind not in DEBIT_KINDS:
        raise ValidationFailed(f"“{kind}” is not a kind of debit.")
    _validate(amount, reason, idempotency_key)
    return _post(advocate=advocate, kind=kind, signed=-amount, reason=reason, cause=cause, actor=actor, idempotency_key=idempotency_key)


@transaction.atomic
def adjust_points(*, advocate: Advocate, amount: int, reason: str, actor, idempotency_key: str) -> LedgerEntry:
    """A manager's manual correction (signed), with a required reason, audited."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValidationFailed("Give a non-zero whole number of points (negative to take points away).", fields={"amount": ["Must not be 0."]})
    post = credit_points if amount > 0 else debit_points
    entry = post(advocate=advocate, amount=abs(amount), kind=EntryKind.ADJUST, reason=reason, actor=actor,
                 idempotency_key=idempotency_key, cause="manual")
    if not entry.replayed:
        log_action(workspace=advocate.workspace, actor=actor, action="points.adjusted", advocate=advocate,
                   message=f"Points adjusted by {amount:+,}: {reason.strip()}", data={"entry": entry.pk})
    return entry


# --- Holds -----------------------------------------------------------------------------


@transaction.atomic
def hold_points(
    *, advocate: Advocate, amount: int, kind: str, reason: str, held_because: str, release_at: datetime,
    idempotency_key: str, cause: str = "",
) -> HeldReward:
    """Promise points that become spendable at ``release_at`` (e.g. a referral hold period)."""
    if kind not in EARN_KINDS:
        raise ValidationFailed("Only earned points can be held.")
    _validate(amount, reason, idempotency_key)
    held, _ = HeldReward.objects.get_or_create(
        workspace_id=advocate.workspace_id, idempotency_key=idempotency_key,
        defaults={"advocate": advocate, "kind": kind, "amount": amount, "reason": reason[:300],
                  "held_because": held_because[:300], "release_at": release_at, "cause": cause[:100]},
    )
    return held


def release_held_rewards(*, workspace: Workspace, now: datetime | None = None) -> int:
    """Credit every held reward that is due. Idempotent: each credit's key is the hold's."""
    now = now or timezone.now()
    released = 0
    due = list(HeldReward.objects.filter(workspace=workspace, status=HeldReward.Status.HELD, release_at__lte=now).select_related("advocate"))
    for held in due:
        with transaction.atomic():
            claimed = HeldReward.objects.filter(pk=held.pk, status=HeldReward.Status.HELD).update(status=HeldReward.Status.RELEASED)
            if not claimed:
                continue
            entry = credit_points(advocate=held.advocate, amount=held.amount, kind=held.kind, reason=held.reason,
                                  cause=held.cause, idempotency_key=f"held:{held.idempotency_key}")
            HeldReward.objects.filter(pk=held.pk).update(entry=entry)
            released += 1
    return released


# --- Tiers -----------------------------------------------------------------------------


def tier_ladder(workspace: Workspace) -> list[Tier]:
    """The workspace's tiers, lowest first; the PRODUCT.md defaults when it has none."""
    tiers = list(Tier.objects.filter(workspace=workspace).order_by("threshold"))
    if not tiers:
        Tier.objects.bulk_create(
            [Tier(workspace=workspace, name=n, threshold=t, perks=p) for n, t, p in Tier.DEFAULTS], ignore_conflicts=True
        )
        tiers = list(Tier.objects.filter(workspace=workspace).order_by("threshold"))
    return tiers


def tier_for(lifetime_points: int, ladder: list[Tier]) -> Tier | None:
    reached = [t for t in ladder if t.threshold <= lifetime_points]
    return reached[-1] if reached else None


@dataclass(frozen=True)
class TierProgress:
    current: Tier | None
    next: Tier | None
    points_to_next: int
    percent: int


def tier_progress(advocate: Advocate) -> TierProgress:
    ladder = tier_ladder(advocate.workspace)
    current = tier_for(advocate.lifetime_points, ladder)
    above = [t for t in ladder if t.threshold > advocate.lifetime_points]
    nxt = above[0] if above else None
    if nxt is None:
        return TierProgress(current, None, 0, 100)
    base = current.threshold if current else 0
    span = max(1, nxt.threshold - base)
    return TierProgress(current, nxt, nxt.threshold - advocate.lifetime_points, int(100 * (advocate.lifetime_points - base) / span))


def update_tier(*, advocate: Advocate) -> bool:
    """Promote the advocate when their lifetime points reach a higher tier; notify them.
    Tiers follow lifetime points only, so nothing here ever demotes."""
    lifetime = Advocate.objects.values_list("lifetime_points", flat=True).get(pk=advocate.pk)
    ladder = tier_ladder(advocate.workspace)
    reached = tier_for(lifetime, ladder)
    if reached is None or reached.name == advocate.tier:
        return False
    current_rank = next((t.threshold for t in ladder if t.name == advocate.tier), -1)
    if reached.threshold <= current_rank:
        return False
    if not Advocate.objects.filter(pk=advocate.pk).exclude(tier=reached.name).update(tier=reached.name):
        return False
    previous, advocate.tier = advocate.tier, reached.name
    if previous:  # not the first tier every member starts in
        log_action(workspace=advocate.workspace, actor=None, action="tier.promoted", advocate=advocate,
                   message=f"Promoted to {reached.name} ({lifetime:,} points earned)")
        from .notifications import send_tier_promotion

        transaction.on_commit(lambda: send_tier_promotion(advocate_id=advocate.pk, tier_id=reached.pk))
    return True
