"""Reads of the dashboard and the metrics API (PRODUCT.md "Metrics, rollups and ROI").

They read the rollups only — ``DailyMetric``, ``AdvocateDay`` — plus ``ProgramCost`` (what
managers entered, read directly so ROI is current the moment a cost is saved), program
names and objectives, and ``programs.Outcome`` for the one figure no rollup holds: the win
rate of deals that used a reference (and ``referrals.Conversion`` for one count: the
attributed conversions of the period in other currencies, which referral revenue and ROI
leave out — the tiles say so).

Definitions over a period ``[start, end]`` (days in the workspace's time zone, both ends
included):

- sums (offers, completions, referral revenue, points earned, …): the sum of the daily
  rows. Without a program: the workspace's rows (``program`` empty), which hold every
  metric; with one: that program's rows.
- active advocates and points outstanding are levels, not flows: the workspace's, the
  value of the last rolled-up day of the period (of a bucket, in a series); a program's,
  the value of its row on the period's (bucket's) last day, else 0 (a program with nobody
  active in its window gets no row that day).
- NPS: ``nps.maths.nps`` over the period's promoter, passive and detractor counts; None
  without answers.
- program costs: ``ProgramCost`` entries incurred in the period (of the program, or all).
- ROI = (referral revenue + revenue won - costs) / costs, as a ratio (two decimals) and a
  percentage (one decimal); None when costs are 0 (none entered).
- advocate retention: of the advocates active at the start — an ``AdvocateDay`` in the 90
  days before ``start`` — the share active at the end (an ``AdvocateDay`` in the 90 days
  up to ``end``), a percentage with one decimal; None when nobody was active at the start.
  People are not split by program (``AdvocateDay`` has none), so it is the workspace's.
- reference win rate: among deal outcomes decided (won or lost, by ``decided_at``) in the
  period, won / (won + lost) for deals of reference-call asks against the other deals; None
  for a side without decided deals.
- top advocates: ``AdvocateDay`` sums over the period, by points earned, then completions,
  conversions and actions (workspace-wide).
- objectives: each program's ``objectives`` (keys of ``OBJECTIVE_METRICS``) against its
  rows' sums to date (since the program began) and in the period; active advocates against
  the program's latest row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, DecimalField, IntegerField, Q, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce

from advocacy.budget import workspace_zone
from advocacy.models import Workspace
from nps.maths import nps as nps_score
from programs.models import OBJECTIVE_METRICS, AskKind, DealStatus, Outcome, OutcomeKind, Program
from referrals.models import Conversion

from .models import AdvocateDay, DailyMetric, ProgramCost
from .periods import Period, bucket_start, buckets

ACTIVE_WINDOW = 90

# Flows: summed over days.
SUMMED = [
    "new_advocates", "offers", "accepts", "completions", "declines", "expiries", "referral_clicks", "referral_leads",
    "referral_conversions", "referral_revenue", "nps_promoters", "nps_passives", "nps_detractors", "surveys_sent",
    "points_earned", "points_redeemed", "pipeline_influenced", "revenue_won", "program_costs", "events",
]
# Levels: the value of the last day.
LEVELS = ["active_advocates", "points_outstanding"]
MONEY = {"referral_revenue", "pipeline_influenced", "revenue_won", "program_costs"}
METRICS = [*LEVELS, *SUMMED, "proof_by_kind", "nps"]
METRIC_LABELS = {
    "active_advocates": "Active advocates", "points_outstanding": "Points outstanding", "new_advocates": "New advocates",
    "offers": "Offers", "accepts": "Accepts", "completions": "Completions", "declines": "Declines", "expiries": "Expiries",
    "referral_clicks": "Referral clicks", "referral_leads": "Referral leads", "referral_conversions": "Referral conversions",
    "referral_revenue": "Referral revenue", "nps_promoters": "Promoters", "nps_passives": "Passives",
    "nps_detractors": "Detractors", "surveys_sent": "Surveys sent", "points_earned": "Points earned",
    "points_redeemed": "Points redeemed", "pipeline_influenced": "Pipeline influenced", "revenue_won": "Revenue won",
    "program_costs": "Program costs", "events": "Activity events", "nps": "NPS",
}
# Objective keys (programs.models.OBJECTIVE_METRICS) → how they are measured in the rollups.
OBJECTIVE_SOURCES = {
    "completions": "completions", "reviews": "proof:review", "reference_calls": "proof:reference_call",
    "case_studies": "proof:case_study", "referrals": "referral_leads", "conversions": "referral_conversions",
    "pipeline": "pipeline_influenced", "revenue_won": "revenue_won", "active_advocates": "active_advocates",
}
CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def money(value) -> Decimal:
    """An amount as a Decimal with two places (SQLite hands sums of decimals back as numbers)."""
    return Decimal(str(value or 0)).quantize(CENT)


def _rows(workspace: Workspace, program: Program | None):
    rows = DailyMetric.objects.filter(workspace=workspace)
    return rows.filter(program=program) if program is not None else rows.filter(program__isnull=True)


def _costs(workspace: Workspace, program: Program | None):
    costs = ProgramCost.objects.filter(workspace=workspace)
    return costs.filter(program=program) if program is not None else costs


def _zero() -> dict[str, Any]:
    totals: dict[str, Any] = {m: Decimal("0.00") if m in MONEY else 0 for m in SUMMED}
    totals.update({m: None for m in LEVELS})
    totals["proof_by_kind"] = {}
    return totals


def _add(totals: dict[str, Any], row: dict[str, Any]) -> None:
    for m in SUMMED:
        if m != "program_costs":
            totals[m] += row[m] or 0
    for m in LEVELS:
        totals[m] = row[m]  # rows come in day order: the last one wins
    for kind, n in (row["proof_by_kind"] or {}).items():
        if isinstance(n, int):
            totals["proof_by_kind"][kind] = totals["proof_by_kind"].get(kind, 0) + n


def _finish(totals: dict[str, Any]) -> dict[str, Any]:
    totals["nps"] = nps_score(totals["nps_promoters"], totals["nps_passives"], totals["nps_detractors"])
    totals["proof_by_kind"] = dict(sorted(totals["proof_by_kind"].items()))
    return totals


class Metrics:
    """The period's rows of the workspace (or one program), read once: totals and any
    series come from them (two queries: the rows and the costs by day)."""

    FIELDS = ["day", "computed_at", "proof_by_kind", *LEVELS, *SUMMED]

    def __init__(self, workspace: Workspace, period: Period, program: Program | None = None):
        self.workspace, self.period, self.program = workspace, period, program
        self.rows = list(_rows(workspace, program).filter(day__gte=period.start, day__lte=period.end)
                         .order_by("day").values(*self.FIELDS))
        self.costs_by_day = {
            r["incurred_on"]: money(r["total"])
            for r in _costs(workspace, program).filter(incurred_on__gte=period.start, incurred_on__lte=period.end)
            .values("incurred_on").annotate(total=Sum("amount")).order_by()
        }

    @property
    def computed_at(self) -> datetime | None:
        return max((r["computed_at"] for r in self.rows), default=None)

    def totals(self) -> dict[str, Any]:
        totals = _zero()
        for row in self.rows:
            _add(totals, row)
        totals["program_costs"] = sum(self.costs_by_day.values(), Decimal("0.00"))
        self._program_levels(totals, self.period.end)
        return _finish(totals)

    def _program_levels(self, totals: dict[str, Any], last_day: date) -> None:
        """A program's levels are those of its row on ``last_day``, else 0: a quiet program
        gets no row, and its last row's count is not today's (the workspace row exists every
        rolled-up day, so its last row is the day's)."""
        if self.program is None:
            return
        row = self._by_day().get(last_day)
        for m in LEVELS:
            totals[m] = row[m] if row is not None else 0

    def _by_day(self) -> dict[date, dict[str, Any]]:
        if not hasattr(self, "_rows_by_day"):
            self._rows_by_day = {r["day"]: r for r in self.rows}
        return self._rows_by_day

    def series(self, granularity: str) -> list[dict[str, Any]]:
        """One entry per bucket of the period (empty buckets too: zeros, and None for the
        levels and NPS)."""
        spans = buckets(self.period, granularity)
        by_start: dict[date, dict[str, Any]] = {}
        for first, _last in spans:
            by_start[first] = _zero()
        starts = [first for first, _ in spans]

        def slot(day: date) -> dict[str, Any]:
            start = max(bucket_start(day, granularity), self.period.start)
            return by_start[start]

        for row in self.rows:
            _add(slot(row["day"]), row)
        for day, amount in self.costs_by_day.items():
            slot(day)["program_costs"] += amount
        for first, last in spans:
            self._program_levels(by_start[first], last)
        return [{"period_start": s, **_finish(by_start[s])} for s in starts]


def roi(totals: dict[str, Any]) -> dict[str, Decimal | None]:
    costs = Decimal(totals["program_costs"] or 0)
    if costs <= 0:
        return {"ratio": None, "percent": None}
    ratio = (Decimal(totals["referral_revenue"]) + Decimal(totals["revenue_won"]) - costs) / costs
    return {"ratio": ratio.quantize(CENT, rounding=ROUND_HALF_UP),
            "percent": (100 * ratio).quantize(TENTH, rounding=ROUND_HALF_UP)}


def _percent(part: int, whole: int) -> Decimal | None:
    if whole <= 0:
        return None
    return (Decimal(100 * part) / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


def retention(workspace: Workspace, period: Period) -> dict[str, Any]:
    """Of the advocates active just before the period (an AdvocateDay in the 90 days before
    its start), how many were still active at its end (the 90 days up to its end). One query."""
    end_window = AdvocateDay.objects.filter(
        workspace=workspace, day__gt=period.end - timedelta(days=ACTIVE_WINDOW), day__lte=period.end,
    ).values("advocate_id")
    counts = AdvocateDay.objects.filter(
        workspace=workspace, day__gte=period.start - timedelta(days=ACTIVE_WINDOW), day__lt=period.start,
    ).aggregate(
        at_start=Count("advocate_id", distinct=True),
        retained=Count("advocate_id", distinct=True, filter=Q(advocate_id__in=end_window)),
    )
    return {"at_start": counts["at_start"], "retained": counts["retained"],
            "percent": _percent(counts["retained"], counts["at_start"])}


def _bounds(workspace: Workspace, period: Period) -> tuple[datetime, datetime]:
    zone = workspace_zone(workspace)
    return (datetime.combine(period.start, time.min, tzinfo=zone),
            datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=zone))


def reference_win_rate(workspace: Workspace, period: Period, program: Program | None = None) -> dict[str, Any]:
    """Won / (won + lost) of deals decided in the period, reference-call deals against the
    others (one grouped query over programs.Outcome)."""
    since, until = _bounds(workspace, period)
    deals = Outcome.objects.filter(workspace=workspace, kind=OutcomeKind.DEAL,
                                   deal_status__in=[DealStatus.WON, DealStatus.LOST],
                                   decided_at__gte=since, decided_at__lt=until)
    if program is not None:
        deals = deals.filter(program=program)
    reference = Q(assignment__ask__kind=AskKind.REFERENCE_CALL)
    won = Q(deal_status=DealStatus.WON)
    c = deals.aggregate(
        ref_won=Count("id", filter=reference & won), ref_all=Count("id", filter=reference),
        other_won=Count("id", filter=~reference & won), other_all=Count("id", filter=~reference),
    )
    return {
        "with_reference": {"won": c["ref_won"], "lost": c["ref_all"] - c["ref_won"], "percent": _percent(c["ref_won"], c["ref_all"])},
        "without_reference": {"won": c["other_won"], "lost": c["other_all"] - c["other_won"],
                              "percent": _percent(c["other_won"], c["other_all"])},
    }


def other_currency_conversions(workspace: Workspace, period: Period, program: Program | None = None) -> int:
    """Attributed referral conversions of the period in a currency other than the
    workspace's: counted in conversions, left out of referral revenue (and so of ROI)."""
    since, until = _bounds(workspace, period)
    found = (Conversion.objects.filter(workspace=workspace, attributed=True, referral__isnull=False,
                                       occurred_at__gte=since, occurred_at__lt=until)
             .exclude(currency=workspace.currency.upper()))
    if program is not None:
        found = found.filter(referral__program=program)
    return found.count()


def kpis(workspace: Workspace, period: Period, program: Program | None = None, *,
         metrics: Metrics | None = None) -> dict[str, Any]:
    """The tiles: active advocates (at the period's end), NPS, referral revenue, pipeline
    influenced, revenue won, advocate retention, ROI and the reference win rates."""
    totals = (metrics or Metrics(workspace, period, program)).totals()
    kept = retention(workspace, period)
    return {
        "active_advocates": totals["active_advocates"] or 0,
        "nps": totals["nps"],
        "nps_responses": totals["nps_promoters"] + totals["nps_passives"] + totals["nps_detractors"],
        "referral_revenue": totals["referral_revenue"],
        "other_currency_conversions": other_currency_conversions(workspace, period, program),
        "pipeline_influenced": totals["pipeline_influenced"],
        "revenue_won": totals["revenue_won"],
        "program_costs": totals["program_costs"],
        "retention": kept["percent"],
        "retention_at_start": kept["at_start"],
        "retention_retained": kept["retained"],
        "roi": roi(totals)["ratio"],
        "roi_percent": roi(totals)["percent"],
        "win_rate": reference_win_rate(workspace, period, program),
    }


def series(workspace: Workspace, period: Period, granularity: str, program: Program | None = None) -> list[dict[str, Any]]:
    return Metrics(workspace, period, program).series(granularity)


def funnel(totals: dict[str, Any]) -> list[dict[str, Any]]:
    """Clicks → leads → conversions, each step with its share of the step before."""
    steps = [("Clicks", totals["referral_clicks"]), ("Leads", totals["referral_leads"]),
             ("Conversions", totals["referral_conversions"])]
    out = []
    for i, (label, n) in enumerate(steps):
        out.append({"label": label, "count": n, "of_previous": _percent(n, steps[i - 1][1]) if i else None})
    return out


def nps_trend(metrics: Metrics) -> list[dict[str, Any]]:
    """The period's NPS by calendar month, with its counts."""
    return [{"month": b["period_start"], "nps": b["nps"], "promoters": b["nps_promoters"], "passives": b["nps_passives"],
             "detractors": b["nps_detractors"], "responses": b["nps_promoters"] + b["nps_passives"] + b["nps_detractors"]}
            for b in metrics.series("month")]


def top_advocates(workspace: Workspace, period: Period, limit: int = 10) -> list[dict[str, Any]]:
    """The people who did most in the period (one grouped query over AdvocateDay)."""
    return list(
        AdvocateDay.objects.filter(workspace=workspace, day__gte=period.start, day__lte=period.end)
        .values("advocate_id", "advocate__name", "advocate__email")
        .annotate(points=Sum("points_earned"), completions=Sum("completions"), conversions=Sum("conversions"),
                  actions=Sum("actions"))
        .order_by("-points", "-completions", "-conversions", "-actions", "advocate_id")[:limit]
    )


PROGRAM_SUMS = ["offers", "completions", "referral_leads", "referral_conversions", "referral_revenue", "pipeline_influenced",
                "revenue_won"]
PROOF_KINDS = ["review", "reference_call", "case_study"]


def _sum(name: str, when: Q):
    if name in MONEY:
        return Coalesce(Sum(name, filter=when), Value(Decimal("0.00")), output_field=DecimalField(max_digits=16, decimal_places=2))
    return Coalesce(Sum(name, filter=when), 0)


def program_table(workspace: Workspace, period: Period, programs: Iterable[Program] | None = None) -> list[dict[str, Any]]:
    """Every program with its period sums, its sums to date, its active advocates on the period's last day,
    its costs and its objectives' progress (three queries whatever the number of programs)."""
    programs = list(programs if programs is not None else Program.objects.filter(workspace=workspace).order_by("name", "id"))
    if not programs:
        return []
    in_period = Q(day__gte=period.start, day__lte=period.end)
    to_date = Q(day__lte=period.end)
    sums: dict[str, Any] = {}
    for prefix, when in (("p_", in_period), ("d_", to_date)):
        for name in PROGRAM_SUMS:
            sums[prefix + name] = _sum(name, when)
        for kind in PROOF_KINDS:
            sums[f"{prefix}proof:{kind}"] = Coalesce(Sum(Cast(KT(f"proof_by_kind__{kind}"), IntegerField()), filter=when), 0)
    ids = [p.pk for p in programs]
    grouped = {r["program_id"]: r for r in DailyMetric.objects.filter(workspace=workspace, program_id__in=ids)
               .values("program_id").annotate(**sums).order_by()}
    # A level is read on the period's last day only: a program with no row that day had
    # nobody active in its 90-day window (quiet programs get no row), so 0.
    active = dict(DailyMetric.objects.filter(workspace=workspace, program_id__in=ids, day=period.end)
                  .values_list("program_id", "active_advocates"))
    costs = {r["program_id"]: r for r in ProgramCost.objects.filter(workspace=workspace, program_id__in=ids)
             .values("program_id").annotate(p=Sum("amount", filter=Q(incurred_on__gte=period.start, incurred_on__lte=period.end)),
                                             d=Sum("amount", filter=Q(incurred_on__lte=period.end))).order_by()}
    table = []
    for program in programs:
        g = grouped.get(program.pk, {})
        c = costs.get(program.pk, {})
        row = {
            "program": program,
            "period": {name.removeprefix("p_"): v for name, v in g.items() if name.startswith("p_")},
            "to_date": {name.removeprefix("d_"): v for name, v in g.items() if name.startswith("d_")},
            "active_advocates": active.get(program.pk, 0),
            "costs": money(c.get("p")),
            "costs_to_date": money(c.get("d")),
        }
        for scope in ("period", "to_date"):
            for key in [*PROGRAM_SUMS, *(f"proof:{k}" for k in PROOF_KINDS)]:
                value = row[scope].get(key) or 0
                # SQLite hands sums of decimals back as numbers: the same Decimal on both backends
                row[scope][key] = money(value) if key in MONEY else int(value)
        period_totals = {"referral_revenue": row["period"]["referral_revenue"], "revenue_won": row["period"]["revenue_won"],
                         "program_costs": row["costs"]}
        row["roi"] = roi(period_totals)
        row["objectives"] = objectives(program, row)
        table.append(row)
    return table


def objectives(program: Program, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Each objective of the program: its target, the value to date and in the period, and
    the percentage reached to date (capped at 100 for the bar)."""
    out = []
    for key, target in (program.objectives or {}).items():
        source = OBJECTIVE_SOURCES.get(key)
        if source is None or not isinstance(target, int | float) or isinstance(target, bool):
            continue
        if source == "active_advocates":
            to_date = in_period = row["active_advocates"]
        else:
            to_date, in_period = row["to_date"].get(source, 0), row["period"].get(source, 0)
        reached = (Decimal(to_date) * 100 / Decimal(target)).quantize(TENTH, rounding=ROUND_HALF_UP) if target > 0 else None
        out.append({"key": key, "label": OBJECTIVE_METRICS[key], "target": target, "to_date": to_date, "in_period": in_period,
                    "money": source in MONEY, "percent": reached, "bar": min(reached, Decimal(100)) if reached is not None else 0})
    return out
