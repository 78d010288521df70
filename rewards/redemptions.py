"""The catalog and redemptions: the one place their rules live. Pages, the API and the
portal call these functions and turn the domain errors into their own answers.

Redeeming runs in one transaction: the advocate's row is locked (so one advocate's
redemptions serialize and the per-advocate limit and yearly cap are counted exactly), the
stock is reserved with a conditional ``UPDATE … SET stock = stock - 1 WHERE stock > 0``, the
redemption is created and the points are debited through the ledger. Any refusal rolls it
all back.

State changes are defined once, in ``TRANSITIONS``. Each is claimed with a conditional
``UPDATE … WHERE status IN (…)``, so a repeated or raced rejection or cancellation finds
nothing to claim and refunds nothing: the refund happens exactly once.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, QuerySet, Sum
from django.utils import timezone

from advocacy.audit import log_action
from advocacy.errors import Conflict, InvalidTransition, ValidationFailed
from advocacy.models import Advocate, Workspace
from advocacy.notifications import email_advocate
from advocacy.scoping import scopes_disabled

from .models import CatalogItem, EntryKind, ItemKind, Redemption, RewardSettings
from .services import NotEnoughPoints, credit_points, debit_points

Status = Redemption.Status

class OutOfStock(Conflict):
    code = "out_of_stock"


class OverLimit(Conflict):
    code = "over_limit"


class OverYearlyCap(Conflict):
    code = "over_yearly_cap"


class ItemUnavailable(Conflict):
    code = "item_unavailable"


# The life of a redemption: from each state, the states it may move to. Nothing else.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.REQUESTED: frozenset({Status.APPROVED, Status.REJECTED, Status.CANCELLED}),
    Status.APPROVED: frozenset({Status.FULFILLED, Status.CANCELLED}),
    Status.FULFILLED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.CANCELLED: frozenset(),
}
# Redemptions that count against limits and caps (everything not undone by a refund).
COUNTING = [Status.REQUESTED, Status.APPROVED, Status.FULFILLED]
ACTION_VERBS = {Status.APPROVED: "approve", Status.FULFILLED: "fulfil", Status.REJECTED: "reject", Status.CANCELLED: "cancel"}


def sources_of(target: str) -> list[str]:
    return [source for source, targets in TRANSITIONS.items() if target in targets]


def can_move(redemption: Redemption, target: str) -> bool:
    return target in TRANSITIONS.get(redemption.status, ())


# --- Redeeming ---------------------------------------------------------------------------


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


@transaction.atomic
def redeem(*, advocate: Advocate, item: CatalogItem, actor, note: str = "") -> Redemption:
    """Spend ``item.cost`` points of ``advocate`` on ``item``. Refused (and nothing kept)
    when the item is inactive, out of stock, over the advocate's limit or yearly cap, or
    when the balance is too low. Items that need no approval start approved."""
    if item.workspace_id != advocate.workspace_id:
        raise ValidationFailed("This item belongs to another workspace.")
    # Lock the advocate: their concurrent redemptions queue here, so the counts below hold.
    locked = Advocate.objects.select_for_update().get(pk=advocate.pk, workspace_id=advocate.workspace_id)
    if locked.is_erased:
        raise Conflict("This advocate was erased and cannot redeem rewards.")
    item = CatalogItem.objects.get(pk=item.pk, workspace_id=advocate.workspace_id)
    if not item.active:
        raise ItemUnavailable(f"“{item.name}” is no longer available.")
    if locked.points_balance < item.cost:
        raise NotEnoughPoints(
            f"Not enough points for “{item.name}”: it costs {item.cost:,} points and the balance is {locked.points_balance:,}."
        )
    mine = Redemption.objects.filter(workspace_id=item.workspace_id, advocate=locked, status__in=COUNTING)
    if item.per_advocate_limit is not None and mine.filter(item=item).count() >= item.per_advocate_limit:
        raise OverLimit(
            f"“{item.name}” can be redeemed at most {item.per_advocate_limit:,} time{'s' if item.per_advocate_limit != 1 else ''} per advocate, "
            "and that limit is reached."
        )
    if item.value > 0:
        cap = RewardSettings.objects.filter(workspace_id=item.workspace_id).values_list("yearly_value_cap", flat=True).first()
        if cap is not None:
            spent = mine.filter(created_at__year=timezone.now().year).aggregate(total=Sum("value"))["total"] or Decimal(0)
            if spent + item.value > cap:
                raise OverYearlyCap(
                    f"Over the yearly reward limit: “{item.name}” is worth {_money(item.value)}, rewards worth {_money(spent)} "
                    f"were already redeemed this year, and the limit is {_money(cap)} per year."
                )
    if item.stock is not None and not CatalogItem.objects.filter(pk=item.pk, stock__gt=0).update(stock=F("stock") - 1):
        raise OutOfStock(f"“{item.name}” is out of stock.")
    now = timezone.now()
    approved = not item.needs_approval
    redemption = Redemption.objects.create(
        workspace_id=item.workspace_id, advocate=locked, item=item, points=item.cost, value=item.value,
        status=Status.APPROVED if approved else Status.REQUESTED, created_at=now, decided_at=now if approved else None,
        fulfilment_note="", reason="",
    )
    kind = EntryKind.DONATE if item.kind == ItemKind.CHARITY else EntryKind.REDEEM
    label = f"Donation to {item.charity_name or item.name}" if kind == EntryKind.DONATE else f"Redeemed: {item.name}"
    entry = debit_points(
        advocate=locked, amount=item.cost, kind=kind, reason=label, actor=actor,
        idempotency_key=f"redeem:{redemption.pk}", cause=f"redemption:{redemption.pk}",
    )
    Redemption.objects.filter(pk=redemption.pk).update(debit_entry=entry)
    redemption.debit_entry = entry
    advocate.points_balance = locked.points_balance = entry.balance_after
    log_action(
        workspace=locked.workspace, actor=actor, action="redemption.requested", advocate=locked,
        message=f"{item.name} redeemed for {item.cost:,} points" + (f" ({note.strip()[:200]})" if note.strip() else ""),
        data={"redemption": redemption.pk, "item": item.pk, "status": redemption.status},
    )
    return redemption


# --- State changes -----------------------------------------------------------------------


def _claim(redemption: Redemption, target: str, *, actor, **fields) -> Redemption:
    """Move ``redemption`` to ``target`` if the table allows it from its current state,
    with a conditional update; otherwise raise InvalidTransition. Returns the fresh row."""
    now = timezone.now()
    user = actor if getattr(actor, "pk", None) and hasattr(actor, "email") else None
    changes = {"status": target, **fields}
    if target == Status.FULFILLED:
        changes["fulfilled_at"] = now
    else:
        changes["decided_at"] = now
        changes["decided_by"] = user
    claimed = Redemption.objects.filter(
        pk=redemption.pk, workspace_id=redemption.workspace_id, status__in=sources_of(target)
    ).update(**changes)
    fresh = Redemption.objects.select_related("item", "advocate", "advocate__workspace").get(pk=redemption.pk)
    if not claimed:
        verb = ACTION_VERBS[target]
        raise InvalidTransition(
            f"This redemption is {fresh.get_status_display().lower()}, so it cannot be {_past(verb)}"
            + (f" (it can only be {' or '.join(_past(ACTION_VERBS[t]) for t in sorted(TRANSITIONS[fresh.status]))})."
               if TRANSITIONS[fresh.status] else ".")
        )
    redemption.__dict__.update({k: getattr(fresh, k) for k in ("status", "decided_at", "decided_by_id", "fulfilled_at", "reason", "fulfilment_note")})
    return fresh


def _past(verb: str) -> str:
    return {"approve": "approved", "fulfil": "fulfilled", "reject": "rejected", "cancel": "cancelled"}[verb]


@transaction.atomic
def approve(*, redemption: Redemption, actor) -> Redemption:
    fresh = _claim(redemption, Status.APPROVED, actor=actor)
    log_action(workspace=fresh.advocate.workspace, actor=actor, action="redemption.approved", advocate=fresh.advocate,
               message=f"Redemption of {fresh.item.name} approved", data={"redemption": fresh.pk})
    return fresh


@transaction.atomic
def fulfil(*, redemption: Redemption, actor, note: str = "") -> Redemption:
    """Mark it fulfilled with a code or tracking note the advocate sees; emails them."""
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationFailed("The note is at most 2,000 characters.", fields={"note": ["At most 2,000 characters."]})
    fresh = _claim(redemption, Status.FULFILLED, actor=actor, fulfilment_note=note)
    log_action(workspace=fresh.advocate.workspace, actor=actor, action="redemption.fulfilled", advocate=fresh.advocate,
               message=f"Redemption of {fresh.item.name} fulfilled", data={"redemption": fresh.pk})
    transaction.on_commit(lambda: send_redemption_email(redemption_id=fresh.pk))
    return fresh


def _undo(redemption: Redemption, target: str, *, actor, reason: str) -> Redemption:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason: the advocate sees it.", fields={"reason": ["Required."]})
    if len(reason) > 300:
        raise ValidationFailed("The reason is at most 300 characters.", fields={"reason": ["At most 300 characters."]})
    fresh = _claim(redemption, target, actor=actor, reason=reason)
    # Claimed exactly once: only this call refunds, and the key guards even against a rerun.
    verb = "Rejected" if target == Status.REJECTED else "Cancelled"
    entry = credit_points(
        advocate=fresh.advocate, amount=fresh.points, kind=EntryKind.REFUND, reason=f"Refund: {fresh.item.name} ({verb.lower()}: {reason})"[:300],
        idempotency_key=f"refund:{fresh.pk}", cause=f"redemption:{fresh.pk}", actor=actor,
    )
    Redemption.objects.filter(pk=fresh.pk).update(refund_entry=entry)
    fresh.refund_entry = entry
    if fresh.item.stock is not None:
        CatalogItem.objects.filter(pk=fresh.item_id).update(stock=F("stock") + 1)
    log_action(workspace=fresh.advocate.workspace, actor=actor, action=f"redemption.{target}", advocate=fresh.advocate,
               message=f"Redemption of {fresh.item.name} {verb.lower()}: {reason}; {fresh.points:,} points refunded",
               data={"redemption": fresh.pk, "refund_entry": entry.pk})
    return fresh


@transaction.atomic
def reject(*, redemption: Redemption, actor, reason: str) -> Redemption:
    """Refuse a requested redemption; refunds the points once and emails the advocate why."""
    fresh = _undo(redemption, Status.REJECTED, actor=actor, reason=reason)
    transaction.on_commit(lambda: send_redemption_email(redemption_id=fresh.pk))
    return fresh


@transaction.atomic
def cancel(*, redemption: Redemption, actor, reason: str) -> Redemption:
    """Call off a requested or approved redemption; refunds the points once."""
    return _undo(redemption, Status.CANCELLED, actor=actor, reason=reason)


# --- Emails ------------------------------------------------------------------------------

EMAIL_TEMPLATES = {Status.FULFILLED: "redemption_fulfilled", Status.REJECTED: "redemption_rejected"}


def send_redemption_email(*, redemption_id: int) -> None:
    """Tell the advocate their reward was fulfilled (with the note) or rejected (with the
    reason and the refund), if they take email."""
    with scopes_disabled():
        r = Redemption.objects.select_related("advocate", "advocate__workspace", "item").get(pk=redemption_id)
    template = EMAIL_TEMPLATES.get(r.status)
    if template is None:
        return
    email_advocate(
        advocate=r.advocate, template=template, portal_url_name="portal_redemptions",
        context={"item": r.item.name, "note": r.fulfilment_note, "reason": r.reason, "points": r.points},
    )


# --- The catalog -------------------------------------------------------------------------

CATALOG_FIELDS = ["name", "description", "kind", "cost", "value", "stock", "per_advocate_limit", "needs_approval",
                  "fulfilment_instructions", "charity_name", "active"]


def _check_item(data: dict) -> None:
    if data.get("kind") == ItemKind.CHARITY and not (data.get("charity_name") or "").strip():
        raise ValidationFailed("A charity donation needs the charity's name.", fields={"charity_name": ["Required for a charity donation."]})


@transaction.atomic
def create_catalog_item(*, workspace: Workspace, actor, data: dict) -> CatalogItem:
    _check_item(data)
    item = CatalogItem.objects.create(workspace=workspace, **{k: v for k, v in data.items() if k in CATALOG_FIELDS})
    log_action(workspace=workspace, actor=actor, action="catalog.created", message=f"Catalog item {item.name} added",
               data={"item": item.pk})
    return item


@transaction.atomic
def update_catalog_item(*, item: CatalogItem, actor, data: dict) -> CatalogItem:
    merged = {f: getattr(item, f) for f in CATALOG_FIELDS} | {k: v for k, v in data.items() if k in CATALOG_FIELDS}
    _check_item(merged)
    changed = sorted(k for k, v in merged.items() if getattr(item, k) != v)
    for k, v in merged.items():
        setattr(item, k, v)
    item.save(update_fields=CATALOG_FIELDS)
    if changed:
        log_action(workspace=item.workspace, actor=actor, action="catalog.updated", message=f"Catalog item {item.name} changed: {', '.join(changed)}",
                   data={"item": item.pk, "changed": changed})
    return item


@transaction.atomic
def delete_catalog_item(*, item: CatalogItem, actor) -> None:
    if Redemption.objects.filter(workspace_id=item.workspace_id, item=item).exists():
        raise Conflict("This item has redemptions, so it cannot be deleted; make it inactive instead.", code="item_in_use")
    log_action(workspace=item.workspace, actor=actor, action="catalog.deleted", message=f"Catalog item {item.name} deleted",
               data={"item": item.pk})
    item.delete()


# --- Reads -------------------------------------------------------------------------------


def charity_totals(workspace: Workspace) -> list[dict]:
    """Donations per charity: points, money value and count, excluding refunded ones."""
    return list(
        Redemption.objects.filter(workspace=workspace, item__kind=ItemKind.CHARITY, status__in=COUNTING)
        .values(charity=F("item__charity_name"))
        .annotate(points=Sum("points"), value=Sum("value"), donations=Count("id"))
        .order_by("-points", "charity")
    )


def approval_queue(workspace: Workspace) -> QuerySet:
    """Requested redemptions waiting for a manager, oldest first."""
    return (Redemption.objects.filter(workspace=workspace, status=Status.REQUESTED)
            .select_related("advocate", "item").order_by("created_at", "id"))


def affordable(advocate: Advocate, item: CatalogItem) -> bool:
    return advocate.points_balance >= item.cost and (item.stock is None or item.stock > 0)

