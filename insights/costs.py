"""Program costs a manager records (the denominator of ROI): create, change, delete, each
audited in the same transaction. Rules: a program of the workspace, a category of
``CostCategory``, an amount from 0 to 999,999,999,999.99 with at most two decimals, a day
between 2000 and 2100, a note of at most 300 characters without NUL characters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from advocacy.audit import acting_user, log_action
from advocacy.errors import ValidationFailed, reject_nul
from advocacy.models import Workspace
from programs.models import Program

from .models import CostCategory, ProgramCost

MAX_AMOUNT = Decimal("999999999999.99")
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
FIELDS = ("program", "category", "amount", "incurred_on", "note")


def _clean(workspace: Workspace, data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise ValidationFailed("Unknown fields.", fields={f: ["Unknown field."] for f in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for name in FIELDS:
        if name not in data:
            if not partial and name != "note":
                errors[name] = ["Required."]
            continue
        value = data[name]
        if name == "program":
            if not isinstance(value, Program) or value.workspace_id != workspace.pk:
                errors[name] = ["Choose a program of this workspace."]
        elif name == "category":
            if value not in CostCategory.values:
                errors[name] = [f"One of {', '.join(CostCategory.values)}."]
        elif name == "amount":
            if not str(value).isascii():
                errors[name] = ["Write the amount with the digits 0-9."]
                continue
            try:
                value = Decimal(str(value))
            except (InvalidOperation, ValueError):
                errors[name] = ["A number."]
            else:
                if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
                    errors[name] = [f"From 0 to {MAX_AMOUNT:,}."]
                elif value != value.quantize(Decimal("0.01")):
                    errors[name] = ["At most two decimals."]
        elif name == "incurred_on":
            if not isinstance(value, date) or not (EARLIEST <= value <= LATEST):
                errors[name] = ["A day between 2000-01-01 and 2100-12-31."]
        elif name == "note":
            value = (value or "").strip()
            reject_nul(note=value)
            if len(value) > 300:
                errors[name] = ["At most 300 characters."]
        clean[name] = value
    if errors:
        raise ValidationFailed("Check the fields listed.", fields=errors)
    return clean


def _refresh_rollups(workspace: Workspace, *days: date) -> None:
    """Mark the changed past days dirty, so the next hourly rollup recomputes them and
    DailyMetric.program_costs follows (insights/dirty.py; today is recomputed every hour
    anyway; the dashboard reads costs from ProgramCost directly, so it is current even
    before). Written in the cost's transaction."""
    from .dirty import mark_dirty

    mark_dirty(workspace=workspace, days=days)


def _describe(cost: ProgramCost) -> dict[str, Any]:
    return {"cost": cost.pk, "program": cost.program_id, "category": cost.category, "amount": str(cost.amount),
            "incurred_on": cost.incurred_on.isoformat()}


@transaction.atomic
def create_cost(*, workspace: Workspace, actor, program: Program, category: str, amount: Decimal | str,
                incurred_on: date, note: str = "") -> ProgramCost:
    data = _clean(workspace, {"program": program, "category": category, "amount": amount, "incurred_on": incurred_on,
                              "note": note}, partial=False)
    cost = ProgramCost.objects.create(workspace=workspace, created_by=acting_user(actor), **data)
    log_action(workspace=workspace, actor=actor, action="program_cost.created",
               message=f"Cost of {cost.amount} {workspace.currency} ({cost.get_category_display().lower()}) recorded for "
                       f"{program.name} on {cost.incurred_on:%-d %b %Y}", data=_describe(cost))
    _refresh_rollups(workspace, cost.incurred_on)
    return cost


@transaction.atomic
def update_cost(*, cost: ProgramCost, actor, data: dict[str, Any]) -> ProgramCost:
    workspace = cost.workspace
    cost = ProgramCost.objects.select_for_update().get(pk=cost.pk, workspace=workspace)
    clean = _clean(workspace, data, partial=True)
    before = cost.incurred_on
    changed = [k for k, v in clean.items() if getattr(cost, k) != v]
    for k in changed:
        setattr(cost, k, clean[k])
    if changed:
        cost.save(update_fields=changed)
        log_action(workspace=workspace, actor=actor, action="program_cost.updated",
                   message=f"Cost of {cost.program.name} on {cost.incurred_on:%-d %b %Y} changed: {', '.join(changed)}",
                   data={**_describe(cost), "changed": changed})
        _refresh_rollups(workspace, before, cost.incurred_on)
    return cost


@transaction.atomic
def delete_cost(*, cost: ProgramCost, actor) -> None:
    workspace = cost.workspace
    cost = ProgramCost.objects.select_for_update().select_related("program").get(pk=cost.pk, workspace=workspace)
    log_action(workspace=workspace, actor=actor, action="program_cost.deleted",
               message=f"Cost of {cost.amount} {workspace.currency} for {cost.program.name} on {cost.incurred_on:%-d %b %Y} deleted",
               data=_describe(cost))
    _refresh_rollups(workspace, cost.incurred_on)
    cost.delete()
