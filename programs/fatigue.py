"""Fatigue: the program rules on top of the core contact budget (advocacy/budget.py), for
offers of asks (PRODUCT.md "Fatigue"). One list of rules, used by the manual offer
(``offer_hold``), by rotation (``offer_rules`` as SQL over a whole audience) and by the
pages (``fatigue_state`` for one advocate, ``fatigue_states`` for a list):

- the core rules for an offer: ``suppressed`` (e.g. a recent detractor), ``budget``
  (contacts in the rolling 30 days), ``own_cap`` (the advocate's own asks a month);
- ``resting``: ``rest_days_after_large_ask`` days after a ``large`` assignment was
  approved (its ``decided_at``);
- ``reference_overuse`` (reference calls only): ``max_reference_calls_per_90_days``
  reference-call assignments offered in the last 90 days that are offered, accepted,
  submitted or approved (declined, expired, rejected and withdrawn ones took nobody's time);
- ``spacing``: at least ``min_days_between_offers`` days since ``last_asked_at`` (held
  while ``last_asked_at > now - N days``: with 7, an offer on day 6 is refused and one on
  day 7 allowed).

The first rule that holds is the reason recorded; ``fatigue_state`` lists all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from advocacy.budget import (
    Hold,
    Rule,
    budget_rules,
    count_of,
    day,
    held_q,
    holds_by_advocate,
    plural,
)
from advocacy.models import Advocate, ContactKind, HoldReason, Workspace

from .models import AskKind, Assignment, AssignmentState, Effort

__all__ = ["Hold", "fatigue_held_q", "fatigue_state", "fatigue_states", "offer_hold", "offer_rules"]

REFERENCE_WINDOW = timedelta(days=90)
# Reference calls that count against the 90-day limit: the ones that take (or took) the
# advocate's time or are still on offer.
REFERENCE_STATES = (AssignmentState.OFFERED, AssignmentState.ACCEPTED, AssignmentState.SUBMITTED, AssignmentState.APPROVED)


def offer_rules(*, workspace: Workspace, now: datetime, ask_kind: str | None = None) -> list[Rule]:
    """Every rule that can hold back an offer of an ask of ``ask_kind`` (None: any ask
    but a reference call) at ``now``, strongest first."""
    rules = budget_rules(workspace=workspace, kind=ContactKind.OFFER, now=now)

    rest = workspace.rest_days_after_large_ask
    if rest:
        rested = Assignment.objects.filter(
            workspace_id=workspace.pk, state=AssignmentState.APPROVED, ask__effort=Effort.LARGE,
            decided_at__gt=now - timedelta(days=rest), decided_at__lte=now,
        )
        rules.append(Rule(
            HoldReason.RESTING, rested.values("advocate_id"),
            lambda row: (f"Resting after a large ask approved on {day(row['rest_from'], workspace)}; "
                         f"{rest} days of rest, so offers again from {day(row['rest_from'] + timedelta(days=rest), workspace)}."),
            {"rest_from": Subquery(rested.filter(advocate_id=OuterRef("pk")).order_by("-decided_at").values("decided_at")[:1])},
        ))

    if ask_kind == AskKind.REFERENCE_CALL:
        limit = workspace.max_reference_calls_per_90_days
        calls = Assignment.objects.filter(
            workspace_id=workspace.pk, ask__kind=AskKind.REFERENCE_CALL, state__in=REFERENCE_STATES,
            offered_at__gt=now - REFERENCE_WINDOW, offered_at__lte=now,
        )
        over = calls.order_by().values("advocate_id").annotate(n=Count("pk")).filter(n__gte=limit).values("advocate_id")
        rules.append(Rule(
            HoldReason.REFERENCE_OVERUSE, over,
            lambda row: f"{plural(row['reference_calls_90d'], 'reference call')} in the last 90 days; the limit is {limit}.",
            {"reference_calls_90d": count_of(calls.filter(advocate_id=OuterRef("pk")))},
        ))

    spacing = workspace.min_days_between_offers
    if spacing:
        rules.append(Rule(
            HoldReason.SPACING, Q(last_asked_at__gt=now - timedelta(days=spacing)),
            lambda row: (f"Last offered an ask on {day(row['last_asked_at'], workspace)}; at least "
                         f"{plural(spacing, 'day')} between offers, so the next from "
                         f"{day(row['last_asked_at'] + timedelta(days=spacing), workspace)}."),
        ))
    return rules


def fatigue_held_q(*, workspace: Workspace, now: datetime | None = None, ask_kind: str | None = None) -> Q:
    """True for the advocates some rule holds back from an offer (a filter for lists)."""
    return held_q(offer_rules(workspace=workspace, now=now or timezone.now(), ask_kind=ask_kind))


def fatigue_states(
    *, workspace: Workspace, advocate_ids: Iterable[int], now: datetime | None = None, ask_kind: str | None = None,
) -> dict[int, list[Hold]]:
    """{advocate id: every rule holding them back from an offer} for a page of advocates,
    in one query whatever their number ([] for those free to be asked)."""
    rules = offer_rules(workspace=workspace, now=now or timezone.now(), ask_kind=ask_kind)
    return holds_by_advocate(workspace=workspace, advocate_ids=advocate_ids, rules=rules)


def fatigue_state(*, advocate: Advocate, now: datetime | None = None, ask_kind: str | None = None) -> list[Hold]:
    """Every rule currently holding ``advocate`` back from an offer (of any ask but a
    reference call, unless ``ask_kind`` says otherwise), for the advocate's page."""
    return fatigue_states(workspace=advocate.workspace, advocate_ids=[advocate.pk], now=now, ask_kind=ask_kind).get(advocate.pk, [])


def offer_hold(*, advocate: Advocate, ask, now: datetime) -> Hold | None:
    """Whether an offer of ``ask`` to ``advocate`` at ``now`` is held back, and why (the
    first rule that holds), or None. Used by programs.services.offer_ask."""
    holds = fatigue_state(advocate=advocate, now=now, ask_kind=ask.kind)
    return holds[0] if holds else None
