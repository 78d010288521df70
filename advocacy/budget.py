"""The one contact budget: every way the workspace reaches out to a person (ask offers,
NPS surveys, referral nudges) is a ``Contact`` row, and every contact the budget holds
back is a ``ContactHold`` row with its reason, shown to managers.

Programs and NPS both call this module; neither imports the other (ARCHITECTURE.md).

The rules (PRODUCT.md "Fatigue"), each defined once as a ``Rule``:

- ``budget``: ``workspace.max_contacts_per_30_days`` contacts (offers, surveys, nudges)
  in the rolling 30 days up to now;
- ``own_cap`` (offers only): the advocate's own ``max_asks_per_month``, counted on the
  offers of the rolling 30 days (the stricter of theirs and the workspace's wins, as both
  apply);
- ``suppressed`` (offers and nudges, i.e. asks): an active ``Suppression`` ("no asks
  until", set for a recent detractor by ``suppress_asks``).

A rule is a ``Q`` on an ``Advocate`` queryset (uncorrelated ``IN (… GROUP BY … HAVING
…)`` subqueries, which PostgreSQL hashes once per query and SQLite runs as well), so a
whole audience is filtered in SQL, plus the figures that describe it to a manager
(correlated subqueries, evaluated only on the rows shown). Three ways to use them:

- one person: ``contact_hold(advocate=…, kind=…, now=…)`` → ``Hold`` or ``None``;
- a page of people: ``contact_holds(workspace=…, advocate_ids=…, kind=…)`` (one query);
- a queryset: ``qs.exclude(held_q(budget_rules(…)))`` or ``annotate_holds(qs, rules)``.

How NPS sending uses it::

    from advocacy.budget import contact_hold, record_contact, record_hold
    from advocacy.models import ContactKind

    hold = contact_hold(advocate=advocate, kind=ContactKind.SURVEY, now=now)
    if hold:
        record_hold(advocate=advocate, subject_type="survey", subject_id=send.pk,
                    reason=hold.reason, detail=hold.detail, at=now)
    else:
        record_contact(advocate=advocate, kind=ContactKind.SURVEY, subject=f"survey-send:{send.pk}", at=now)

and for a batch, ``Advocate.objects.filter(…).exclude(held_q(budget_rules(workspace=…,
kind=ContactKind.SURVEY, now=now)))`` selects who may be surveyed in one query. NPS's own
survey throttle is one more ``Rule`` (reason ``HoldReason.SURVEY_THROTTLE``, ``held`` = the
ids surveyed too recently) appended to ``budget_rules(…)``: ``held_q(rules)`` filters with it
and ``holds_by_advocate(workspace=…, advocate_ids=…, rules=rules)`` explains it, the way
programs.fatigue adds the offer rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Advocate, Contact, ContactHold, ContactKind, HoldReason, Suppression, Workspace

BUDGET_WINDOW = timedelta(days=30)
# Kinds of contact that are asks: a "no asks" suppression holds them back, surveys not.
ASK_KINDS = (ContactKind.OFFER, ContactKind.NUDGE)


@dataclass(frozen=True)
class Hold:
    """Why a contact is held back: ``reason`` (a ``HoldReason`` value) and ``detail``, a
    sentence a manager reads ("4 contacts in the last 30 days; the limit is 4.")."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Rule:
    """One fatigue rule. ``held`` says whom it holds back: either a queryset of their ids
    (``.values("advocate_id")``, uncorrelated: the database computes the set once per
    query) or a ``Q`` on the Advocate itself. ``figures`` are the annotations that
    ``describe`` turns into the manager's sentence."""

    reason: str
    held: Q | QuerySet
    describe: Callable[[Mapping[str, Any]], str]
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def flag(self) -> str:
        return f"held_{self.reason}"

    @property
    def condition(self) -> Q:
        """True for the advocates this rule holds back (for filter/exclude/annotations)."""
        return Q(pk__in=self.held) if isinstance(self.held, QuerySet) else self.held

    def condition_among(self, advocate_ids: list[int]) -> Q:
        """``condition`` for these advocates only: the id set is computed for them alone
        (a person or a page), not for the whole workspace."""
        if isinstance(self.held, QuerySet):
            return Q(pk__in=self.held.filter(advocate_id__in=advocate_ids))
        return self.held


def workspace_zone(workspace: Workspace) -> ZoneInfo:
    try:
        return ZoneInfo(workspace.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day(value: datetime | None, workspace: Workspace) -> str:
    """A date as a manager reads it, in the workspace's time zone: "3 Mar 2025"."""
    if value is None:
        return "an unknown date"
    local = timezone.localtime(value, workspace_zone(workspace))
    return f"{local.day} {local:%b %Y}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def count_of(qs: QuerySet) -> Coalesce:
    """``COUNT(*)`` of a correlated queryset as an integer annotation (0 when none)."""
    sub = qs.order_by().values("advocate_id").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def contacts(
    workspace: Workspace, *, now: datetime, window: timedelta = BUDGET_WINDOW, kinds: Iterable[str] | None = None,
    with_later: bool = False,
):
    """The workspace's contacts in the rolling window ending at ``now`` (with ``with_later``,
    also those recorded after ``now``)."""
    qs = Contact.objects.filter(workspace_id=workspace.pk, at__gt=now - window)
    if not with_later:
        qs = qs.filter(at__lte=now)
    return qs.filter(kind__in=list(kinds)) if kinds is not None else qs


def active_suppressions(workspace: Workspace, *, now: datetime):
    return Suppression.objects.filter(workspace_id=workspace.pk, starts_at__lte=now, until__gt=now)


def budget_rules(*, workspace: Workspace, kind: str, now: datetime, count_later: bool = False) -> list[Rule]:
    """The core rules that hold back a contact of ``kind`` (a ``ContactKind``) at ``now``,
    strongest first: suppressed (asks only), budget, own cap (offers only). With
    ``count_later`` the budget also counts contacts recorded after ``now``: for a sender
    whose clock was read before a concurrent sender recorded its contacts (NPS rounds)."""
    rules: list[Rule] = []
    if kind in ASK_KINDS:
        suppressions = active_suppressions(workspace, now=now)
        latest = suppressions.filter(advocate_id=OuterRef("pk")).order_by("-until")

        def describe_suppression(row: Mapping[str, Any]) -> str:
            why = Suppression.Reason(row["suppression_reason"]).label.lower() if row.get("suppression_reason") else "set"
            detail = f" ({row['suppression_detail']})" if row.get("suppression_detail") else ""
            return f"No asks until {day(row.get('suppressed_until'), workspace)}: {why}{detail}."

        rules.append(Rule(
            HoldReason.SUPPRESSED, suppressions.values("advocate_id"), describe_suppression,
            {"suppressed_until": Subquery(latest.values("until")[:1]),
             "suppression_reason": Subquery(latest.values("reason")[:1]),
             "suppression_detail": Subquery(latest.values("detail")[:1])},
        ))

    limit = workspace.max_contacts_per_30_days
    recent = contacts(workspace, now=now, with_later=count_later)
    over = recent.order_by().values("advocate_id").annotate(n=Count("pk")).filter(n__gte=limit).values("advocate_id")
    rules.append(Rule(
        HoldReason.BUDGET, over,
        lambda row: (f"{plural(row['contacts_30d'], 'contact')} (offers, surveys and nudges) in the last 30 days; "
                     f"the limit is {limit}."),
        {"contacts_30d": count_of(recent.filter(advocate_id=OuterRef("pk")))},
    ))

    if kind == ContactKind.OFFER:
        offers = contacts(workspace, now=now, kinds=[ContactKind.OFFER])
        offers_30d = count_of(offers.filter(advocate_id=OuterRef("pk")))
        # Few people set a cap: the count runs only for them (SQL evaluates AND in order).
        rules.append(Rule(
            HoldReason.OWN_CAP, Q(max_asks_per_month__isnull=False) & Q(max_asks_per_month__lte=offers_30d),
            lambda row: ("They asked for no asks for now (their own limit is 0 a month)." if not row["max_asks_per_month"] else
                         f"Their own limit is {plural(row['max_asks_per_month'], 'ask')} a month; "
                         f"{plural(row['offers_30d'], 'offer')} in the last 30 days."),
            {"offers_30d": offers_30d},
        ))
    return rules


# --- Using rules on querysets -------------------------------------------------------------


def held_q(rules: Iterable[Rule]) -> Q:
    """True for an advocate held back by any of ``rules``. The id sets are one
    ``IN (… UNION ALL …)``: one hashed set per query, and one condition for the planner to
    estimate (several ANDed NOT IN clauses make it expect almost no rows and pick nested
    loops)."""
    rules = list(rules)
    sets = [r.held.order_by() for r in rules if isinstance(r.held, QuerySet)]
    combined = Q(pk__in=[])
    if sets:
        combined |= Q(pk__in=sets[0].union(*sets[1:], all=True) if len(sets) > 1 else sets[0])
    for rule in rules:
        if not isinstance(rule.held, QuerySet):
            combined |= rule.held
    return combined


def annotate_holds(qs: QuerySet, rules: Iterable[Rule], *, advocate_ids: list[int] | None = None) -> QuerySet:
    """Annotate a boolean ``held_<reason>`` per rule and the figures that describe them.
    With ``advocate_ids`` (the queryset's people), the rules' sets are computed for them
    alone."""
    annotations: dict[str, Any] = {}
    for rule in rules:
        condition = rule.condition if advocate_ids is None else rule.condition_among(advocate_ids)
        annotations[rule.flag] = ExpressionWrapper(condition, output_field=BooleanField())
        annotations.update(rule.figures)
    return qs.annotate(**annotations)


def holds_of(row: Mapping[str, Any] | Any, rules: Iterable[Rule]) -> list[Hold]:
    """The holds of one annotated row (a dict from ``.values()`` or a model instance), in
    the rules' order."""
    data = row if isinstance(row, Mapping) else vars(row)
    return [Hold(rule.reason, rule.describe(data)[:200]) for rule in rules if data.get(rule.flag)]


def holds_by_advocate(*, workspace: Workspace, advocate_ids: Iterable[int], rules: list[Rule]) -> dict[int, list[Hold]]:
    """{advocate id: their holds under ``rules``} for these advocates of ``workspace``, in
    one query whose work grows with the advocates named, not with the workspace (for a
    person, a page, or the people rotation held back)."""
    ids = list(advocate_ids)
    if not ids:
        return {}
    qs = Advocate.objects.filter(workspace_id=workspace.pk, pk__in=ids)
    fields = ["pk", "max_asks_per_month", "last_asked_at"] + [r.flag for r in rules] + [f for r in rules for f in r.figures]
    return {row["pk"]: holds_of(row, rules) for row in annotate_holds(qs, rules, advocate_ids=ids).values(*fields)}


def contact_hold(*, advocate: Advocate, kind: str, now: datetime | None = None) -> Hold | None:
    """Whether the core budget holds back a contact of ``kind`` (``ContactKind``) to
    ``advocate`` at ``now``, and why: the first rule that holds, or None. One query.
    Offers also pass the program rules: programs.fatigue.offer_hold calls this."""
    holds = contact_holds(workspace=advocate.workspace, advocate_ids=[advocate.pk], kind=kind, now=now).get(advocate.pk)
    return holds[0] if holds else None


def contact_holds(
    *, workspace: Workspace, advocate_ids: Iterable[int], kind: str, now: datetime | None = None,
) -> dict[int, list[Hold]]:
    """Every core rule holding back a contact of ``kind`` for each of these advocates, in
    one query (for a list page or a batch). Advocates held by nothing map to []."""
    now = now or timezone.now()
    rules = budget_rules(workspace=workspace, kind=kind, now=now)
    return holds_by_advocate(workspace=workspace, advocate_ids=advocate_ids, rules=rules)


# --- Writing contacts, holds and suppressions ----------------------------------------------


def record_contact(*, advocate: Advocate, kind: str, subject: str, at: datetime | None = None) -> None:
    """Count one contact against the person's budget (once per ``subject``)."""
    Contact.objects.bulk_create(
        [Contact(workspace_id=advocate.workspace_id, advocate=advocate, kind=kind, subject=subject, at=at or timezone.now())],
        ignore_conflicts=True,
    )


def record_hold(*, advocate: Advocate, subject_type: str, subject_id: int, reason: str, detail: str, at: datetime | None = None) -> None:
    """Remember that a contact about ``subject`` was held back, and why (refreshed if held again)."""
    record_holds(workspace_id=advocate.workspace_id, subject_type=subject_type, subject_id=subject_id,
                 holds={advocate.pk: Hold(reason, detail)}, at=at)


def record_holds(
    *, workspace_id: int, subject_type: str, subject_id: int, holds: Mapping[int, Hold], at: datetime | None = None,
) -> int:
    """Record many held-back contacts about one subject in one upsert ({advocate id: Hold})."""
    if not holds:
        return 0
    at = at or timezone.now()
    ContactHold.objects.bulk_create(
        [ContactHold(workspace_id=workspace_id, advocate_id=advocate_id, subject_type=subject_type, subject_id=subject_id,
                     reason=hold.reason, detail=hold.detail[:200], held_at=at) for advocate_id, hold in holds.items()],
        update_conflicts=True, unique_fields=["workspace", "subject_type", "subject_id", "advocate"],
        update_fields=["reason", "detail", "held_at"],
    )
    return len(holds)


@transaction.atomic
def suppress_asks(*, advocate: Advocate, reason: str, days: int | None = None, detail: str = "", starts_at: datetime | None = None) -> Suppression:
    """No asks for ``advocate`` until ``starts_at + days`` (default: the workspace's
    detractor quiet period). NPS calls this for a detractor's answer."""
    starts_at = starts_at or timezone.now()
    workspace: Workspace = advocate.workspace
    days = workspace.detractor_quiet_days if days is None else days
    return Suppression.objects.create(
        workspace=workspace, advocate=advocate, reason=reason, detail=detail[:300], starts_at=starts_at,
        until=starts_at + timedelta(days=days),
    )
