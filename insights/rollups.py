"""Daily metric rollups (PRODUCT.md "Metrics, rollups and ROI"), computed in the database.

``rollup_days(workspace=, start=, end=)`` recomputes every ``DailyMetric`` row (the
workspace's total, ``program`` empty, and one row per program with something to show)
and every ``AdvocateDay`` row of the days ``start`` to ``end`` whole, set-based, with
SELECTs built with the ORM and compiled to SQL:

1. the per-person facts of the range (every kind of activity, below) are grouped once
   into a temporary table; ``AdvocateDay`` is upserted from it (``INSERT … SELECT … ON
   CONFLICT … DO UPDATE … WHERE`` something changed, so an hourly rerun rewrites only the
   people who did something since) and the range's rows it no longer holds are deleted;
2. the range's ``DailyMetric`` rows are deleted, then each metric family is written by
   one ``INSERT … SELECT … GROUP BY … ON CONFLICT … DO UPDATE`` per level (the workspace
   row, the program rows) over the whole range; the workspace's event count is summed
   from the temporary table (1M events are read once, not twice); the levels (active
   and new advocates, points outstanding) are one statement over the range's days.

After the range, the levels of the days after it that were already rolled up are
refreshed (``refresh_levels_after``: active advocates up to 89 days on, new advocates of
later first days). Late data of past days is marked dirty by signals and recomputed by the
hourly task (insights/dirty.py).

So a rerun leaves identical metric columns, a late event is picked up, and a day whose
source rows were deleted ends at zeros (the workspace row, which every day of the range
gets) or no rows (programs, people). Ranges are cut into chunks of ``CHUNK_DAYS``, one
transaction each, serialised per workspace (a transaction-scoped advisory lock on
Postgres; SQLite serialises writers anyway). Works on Postgres and SQLite alike (the
demo): the only differences are the JSON aggregate, the empty-JSON literal and the lock.

A day is a calendar day in the workspace's time zone (``advocacy.budget.workspace_zone``):
an event at 23:30 local time counts on that local day, whatever UTC says. The source rows
are selected by the UTC instants of the local midnights, so the (workspace, time)
indexes serve every family.

Definitions (each day D; "per program" means the row of the program the source row
belongs to; the workspace row counts everything, program or not):

People (from ``AdvocateDay`` for the workspace row)
- ``AdvocateDay`` (advocate, D): ``actions`` = activity events + assignments accepted +
  proofs submitted + assignments approved + referral leads made (referrals created by
  their code, any state) + NPS answers + rewards redeemed (redemptions requested), each on
  its own time; ``completions`` = their assignments approved on D; ``conversions`` =
  attributed conversions of their referrals on D; ``points_earned`` = points earned on D
  (as below). A row exists when any of these is above zero: earning points or a
  conversion is activity too, but not an "action" of its own (an approval that credits
  points is one action).
- ``active_advocates``: distinct people with an ``AdvocateDay`` in the 90 days up to and
  including D.
- ``new_advocates``: people whose first ``AdvocateDay`` ever is D (workspace row only).
- Program rows: ``active_advocates`` = distinct people with activity *in the program* in
  the 90 days up to D: its assignments accepted, submitted or approved, leads and
  attributed conversions through its codes, points earned in it (events, NPS answers and
  redemptions belong to no program). ``new_advocates`` stays 0 on program rows.

Asks (assignments; per program)
- ``offers``: offered on D (``offered_at``); ``accepts``: accepted on D (``accepted_at``,
  whatever became of them later); ``completions``: approved on D (state approved,
  ``decided_at``); ``declines`` and ``expiries``: state declined / expired, ``decided_at``
  on D. Rejected and withdrawn assignments are not counted.
- ``proof_by_kind``: the completions of D by ask kind, ``{"review": 3}`` (empty: ``{}``).

Referrals (per program: the code's / the referral's program)
- ``referral_clicks``: clicks on D, flagged clicks left out (as the referral funnel of
  ``referrals/queries.py``); ``referral_leads``: referrals created on D, every state;
- ``referral_conversions``: conversions that occurred on D attributed to a referral
  (``attributed`` and a referral), any currency; ``referral_revenue``: the value of those
  in the workspace's currency only (conversions in other currencies are counted in
  ``referral_conversions`` but add no revenue: there is no exchange rate in the product).

NPS (workspace row only: surveys belong to no program)
- ``nps_promoters`` / ``nps_passives`` / ``nps_detractors``: answers by category whose
  ``answered_at`` is D (an answer replaced later keeps its first ``answered_at`` and
  counts on that day in its latest category; that day is marked dirty for the hourly
  rollup, insights/dirty.py);
  ``surveys_sent``: survey sends on D (``sent_at``), every channel.

Points (the ledger; per program by the entry's ``program_id``)
- ``points_earned``: Σ amount of earned entries on D (``rewards.models.earned_entries``:
  earn_* kinds and positive adjustments);
- ``points_redeemed``: Σ -amount of ``redeem`` and ``donate`` entries on D (gross: a later
  refund is a credit and shows in the balance, not as a negative redemption);
- ``points_outstanding`` (workspace row only): the spendable balances at the end of D =
  Σ amount of every ledger entry created before the next local midnight.

Money (the workspace's currency; per program)
- ``pipeline_influenced``: Σ amount of deal outcomes created on D (open, won or lost);
- ``revenue_won``: Σ amount of deal outcomes with status won whose ``decided_at`` is D
  (the day it was marked won; later edits of the outcome leave it there);
- ``program_costs``: Σ amount of program costs incurred on D (``incurred_on``, a date).

Activity events (workspace row only)
- ``events``: activity events that occurred on D (``occurred_at``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import BigIntegerField, Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import TruncDate
from django.utils import timezone

from advocacy.budget import workspace_zone
from advocacy.models import ActivityEvent, Workspace
from advocacy.scoping import workspace_scope
from nps.models import Category, SurveyResponse, SurveySend
from programs.models import Assignment, AssignmentState, DealStatus, Outcome, OutcomeKind, Program
from referrals.models import Click, Conversion, Referral
from rewards.models import EntryKind, LedgerEntry, Redemption, earned_entries

from .models import AdvocateDay, DailyMetric, ProgramCost
from .periods import local_today

ACTIVE_WINDOW_DAYS = 90
CHUNK_DAYS = 31
MAX_DAYS = 3 * 366

METRIC_TABLE = DailyMetric._meta.db_table
PEOPLE_TABLE = AdvocateDay._meta.db_table
# Every metric column of DailyMetric, in one order (proof_by_kind is JSON, the rest numbers).
METRIC_COLUMNS = [
    "active_advocates", "new_advocates", "offers", "accepts", "completions", "declines", "expiries", "proof_by_kind",
    "referral_clicks", "referral_leads", "referral_conversions", "referral_revenue", "nps_promoters", "nps_passives",
    "nps_detractors", "surveys_sent", "points_earned", "points_redeemed", "points_outstanding", "pipeline_influenced",
    "revenue_won", "program_costs", "events",
]
PEOPLE_COLUMNS = ["actions", "completions", "conversions", "points_earned"]
PEOPLE_WORK_COLUMNS = [*PEOPLE_COLUMNS, "events"]
WORK_TABLE = "insights_rollup_people"  # a temporary table, per connection and transaction
_LOCK_CLASS = zlib.crc32(b"insights.rollups") & 0x7FFFFFFF


def rollup_days(*, workspace: Workspace, start: date, end: date) -> int:
    """Recompute the rollups of the days ``start`` to ``end`` (both included) whole, one
    transaction per chunk of days. Returns the number of days computed."""
    if end < start:
        raise ValueError("The range ends before it starts.")
    days = 0
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + timedelta(days=CHUNK_DAYS - 1))
        _rollup_chunk(workspace=workspace, start=chunk_start, end=chunk_end)
        days += (chunk_end - chunk_start).days + 1
        chunk_start = chunk_end + timedelta(days=1)
    refresh_levels_after(workspace=workspace, end=end)
    return days


@transaction.atomic
def refresh_levels_after(*, workspace: Workspace, end: date) -> None:
    """After the days up to ``end`` changed, the levels of the days after it that were
    already rolled up: active advocates (workspace and program rows) of ``end`` + 1 to
    ``end`` + 89 (their 90-day window holds ``end``) and new advocates of every later day
    that is someone's first day after ``end`` (the only later days whose "first day ever"
    a change up to ``end`` can move). Days after today and days never rolled up are left
    alone (no row is created)."""
    today = local_today(workspace)
    first, last = end + timedelta(days=1), min(end + timedelta(days=ACTIVE_WINDOW_DAYS - 1), today)
    if end >= today:
        return  # nothing after it was rolled up (the hourly run of today)
    with workspace_scope(workspace), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, workspace.pk])
            cursor.execute("SET LOCAL jit = off")
        ops = connection.ops
        if first <= last:
            r = _Range(workspace, first, last)
            cursor.execute(*_levels_upsert(r, existing_only=True))
            cursor.execute(f"UPDATE {METRIC_TABLE} SET active_advocates = 0 WHERE workspace_id = %s "
                           "AND program_id IS NOT NULL AND day >= %s AND day <= %s",
                           [workspace.pk, ops.adapt_datefield_value(first), ops.adapt_datefield_value(last)])
            cursor.execute(*_program_people_upsert(r, existing_only=True))
        if last < today:
            cursor.execute(
                f"UPDATE {METRIC_TABLE} AS m SET new_advocates = ({_NEW_ADVOCATES % 'm.day'}) "
                f"WHERE m.workspace_id = %s AND m.program_id IS NULL AND m.day > %s AND m.day <= %s AND m.day IN "
                f"(SELECT MIN(a.day) FROM {PEOPLE_TABLE} a WHERE a.workspace_id = %s AND a.day > %s GROUP BY a.advocate_id)",
                [workspace.pk, workspace.pk, ops.adapt_datefield_value(last), ops.adapt_datefield_value(today),
                 workspace.pk, ops.adapt_datefield_value(end)])


# ---------------------------------------------------------------------------------------
# One chunk
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Range:
    workspace: Workspace
    start: date
    end: date

    @property
    def zone(self):
        return workspace_zone(self.workspace)

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.zone)

    @property
    def since(self) -> datetime:
        return self.midnight(self.start)

    @property
    def until(self) -> datetime:
        return self.midnight(self.end + timedelta(days=1))

    def within(self, qs: QuerySet, field: str) -> QuerySet:
        return qs.filter(workspace=self.workspace, **{f"{field}__gte": self.since, f"{field}__lt": self.until})

    def day_of(self, field: str) -> TruncDate:
        return TruncDate(field, tzinfo=self.zone)


@transaction.atomic
def _rollup_chunk(*, workspace: Workspace, start: date, end: date) -> None:
    r = _Range(workspace, start, end)
    with workspace_scope(workspace), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, workspace.pk])
            # JIT compiling these one-off aggregates costs ~100 ms a statement and saves nothing.
            cursor.execute("SET LOCAL jit = off")
        ops = connection.ops
        bounds = [workspace.pk, ops.adapt_datefield_value(start), ops.adapt_datefield_value(end)]
        cursor.execute(f"DELETE FROM {METRIC_TABLE} WHERE workspace_id = %s AND day >= %s AND day <= %s", bounds)
        _write_people(cursor, r, bounds)
        cursor.execute(*_events_upsert(r))
        for family in _families(r):
            for level in ("workspace", "program"):
                if level == "program" and not family.per_program:
                    continue
                sql, params = _metric_upsert(r, family, level)
                cursor.execute(sql, params)
        for level in ("workspace", "program"):
            sql, params = _proof_upsert(r, level)
            cursor.execute(sql, params)
        cursor.execute(*_levels_upsert(r))
        cursor.execute(*_program_people_upsert(r))
        _drop_work_table(cursor)


# ---------------------------------------------------------------------------------------
# Facts: ORM querysets grouped by (key, day), compiled to SQL
# ---------------------------------------------------------------------------------------


def _fact(qs: QuerySet, *, day, key, measures: dict, columns: list[str]) -> tuple[str, list]:
    """``SELECT r_key, r_day, <every column of the family> FROM (<qs grouped by key and
    day>)``: measures the fact lacks are 0, so the facts of a family can be UNION ALL'ed."""
    grouped = (qs.order_by().annotate(r_day=day, r_key=key).values("r_key", "r_day").annotate(**measures))
    sql, params = grouped.query.sql_with_params()
    select = ", ".join(f"q.{c}" if c in measures else f"0 AS {c}" for c in columns)
    return f"SELECT q.r_key, q.r_day, {select} FROM ({sql}) q", list(params)


def _union(facts: list[tuple[str, list]]) -> tuple[str, list]:
    # Each member is a plain SELECT … FROM (subquery): SQLite refuses parenthesised members.
    sql = " UNION ALL ".join(f for f, _ in facts)
    params = [p for _, ps in facts for p in ps]
    return sql, params


@dataclass
class _Family:
    name: str
    columns: list[str]  # DailyMetric columns this family writes
    facts: list[tuple[str, list]]
    per_program: bool = True


def _families(r: _Range) -> list[_Family]:
    ws = r.workspace
    none = Value(None, output_field=BigIntegerField())
    assign_cols = ["offers", "accepts", "completions", "declines", "expiries"]
    assignments = Assignment.objects.all()
    S = AssignmentState

    def a_fact(field: str, measures: dict, qs=None):
        return _fact(r.within(qs if qs is not None else assignments, field), day=r.day_of(field),
                     key=F("program_id"), measures=measures, columns=assign_cols)

    referral_cols = ["referral_clicks", "referral_leads", "referral_conversions", "referral_revenue"]
    nps_cols = ["nps_promoters", "nps_passives", "nps_detractors", "surveys_sent"]
    money_cols = ["pipeline_influenced", "revenue_won", "program_costs"]
    deals = Outcome.objects.filter(kind=OutcomeKind.DEAL)
    costs = ProgramCost.objects.filter(workspace=ws, incurred_on__gte=r.start, incurred_on__lte=r.end)
    return [
        _Family("asks", assign_cols, [
            a_fact("offered_at", {"offers": Count("id")}),
            a_fact("accepted_at", {"accepts": Count("id")}),
            a_fact("decided_at", {
                "completions": Count("id", filter=Q(state=S.APPROVED)),
                "declines": Count("id", filter=Q(state=S.DECLINED)),
                "expiries": Count("id", filter=Q(state=S.EXPIRED)),
            }, qs=assignments.filter(state__in=[S.APPROVED, S.DECLINED, S.EXPIRED])),
        ]),
        _Family("referrals", referral_cols, [
            _fact(r.within(Click.objects.filter(flagged=False), "at"), day=r.day_of("at"), key=F("code__program_id"),
                  measures={"referral_clicks": Count("id")}, columns=referral_cols),
            _fact(r.within(Referral.objects.all(), "created_at"), day=r.day_of("created_at"), key=F("program_id"),
                  measures={"referral_leads": Count("id")}, columns=referral_cols),
            _fact(r.within(Conversion.objects.filter(attributed=True, referral__isnull=False), "occurred_at"),
                  day=r.day_of("occurred_at"), key=F("referral__program_id"),
                  measures={"referral_conversions": Count("id"),
                            "referral_revenue": Sum("value", filter=Q(currency=ws.currency.upper()))},
                  columns=referral_cols),
        ]),
        _Family("nps", nps_cols, [
            _fact(r.within(SurveyResponse.objects.all(), "answered_at"), day=r.day_of("answered_at"), key=none,
                  measures={"nps_promoters": Count("id", filter=Q(category=Category.PROMOTER)),
                            "nps_passives": Count("id", filter=Q(category=Category.PASSIVE)),
                            "nps_detractors": Count("id", filter=Q(category=Category.DETRACTOR))},
                  columns=nps_cols),
            _fact(r.within(SurveySend.objects.all(), "sent_at"), day=r.day_of("sent_at"), key=none,
                  measures={"surveys_sent": Count("id")}, columns=nps_cols),
        ], per_program=False),
        _Family("points", ["points_earned", "points_redeemed"], [
            _fact(r.within(LedgerEntry.objects.all(), "created_at"), day=r.day_of("created_at"), key=F("program_id"),
                  measures={"points_earned": Sum("amount", filter=earned_entries()),
                            "points_redeemed": Sum(-F("amount"), filter=Q(kind__in=[EntryKind.REDEEM, EntryKind.DONATE]))},
                  columns=["points_earned", "points_redeemed"]),
        ]),
        _Family("money", money_cols, [
            _fact(r.within(deals, "created_at"), day=r.day_of("created_at"), key=F("program_id"),
                  measures={"pipeline_influenced": Sum("amount")}, columns=money_cols),
            _fact(r.within(deals.filter(deal_status=DealStatus.WON), "decided_at"), day=r.day_of("decided_at"),
                  key=F("program_id"), measures={"revenue_won": Sum("amount")}, columns=money_cols),
            _fact(costs, day=F("incurred_on"), key=F("program_id"), measures={"program_costs": Sum("amount")},
                  columns=money_cols),
        ]),
    ]


# ---------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------


def _empty_json() -> str:
    return "'{}'::jsonb" if connection.vendor == "postgresql" else "'{}'"


def _conflict(level: str) -> str:
    if level == "workspace":
        return "ON CONFLICT (workspace_id, day) WHERE program_id IS NULL"
    return "ON CONFLICT (workspace_id, program_id, day) WHERE program_id IS NOT NULL"


def _insert(select_values: dict[str, str]) -> str:
    """The INSERT's column list and the SELECT's expressions: the given ones, zeros else."""
    exprs = [select_values.get(c, _empty_json() if c == "proof_by_kind" else "0") for c in METRIC_COLUMNS]
    return (f"INSERT INTO {METRIC_TABLE} (workspace_id, program_id, day, {', '.join(METRIC_COLUMNS)}, computed_at) "
            f"SELECT %s, __PROGRAM__, __DAY__, {', '.join(exprs)}, %s")


def _program_filter(level: str) -> str:
    # Ledger entries carry a bare program id: only programs of this workspace get a row.
    if level == "workspace":
        return ""
    return f" AND u.r_key IN (SELECT id FROM {Program._meta.db_table} WHERE workspace_id = %s)"


def _metric_upsert(r: _Range, family: _Family, level: str) -> tuple[str, list]:
    union_sql, union_params = _union(family.facts)
    program = "NULL" if level == "workspace" else "u.r_key"
    head = _insert({c: f"COALESCE(SUM(u.{c}), 0)" for c in family.columns}).replace("__PROGRAM__", program).replace("__DAY__", "u.r_day")
    group = "u.r_day" if level == "workspace" else "u.r_key, u.r_day"
    updates = ", ".join(f"{c} = excluded.{c}" for c in family.columns)
    sql = (f"{head} FROM ({union_sql}) u WHERE 1 = 1{_program_filter(level)} GROUP BY {group} "
           f"{_conflict(level)} DO UPDATE SET {updates}, computed_at = excluded.computed_at")
    params = [r.workspace.pk, _now()] + union_params + ([r.workspace.pk] if level == "program" else [])
    return sql, params


def _json_object_agg(key: str, value: str) -> str:
    if connection.vendor == "postgresql":
        return f"jsonb_object_agg({key}, {value})"
    return f"json_group_object({key}, {value})"


def _proof_upsert(r: _Range, level: str) -> tuple[str, list]:
    """proof_by_kind: approvals grouped by (program, day, ask kind), then folded into one
    JSON object per row."""
    approved = r.within(Assignment.objects.filter(state=AssignmentState.APPROVED), "decided_at")
    grouped = (approved.order_by().annotate(r_day=r.day_of("decided_at"), r_key=F("program_id"), r_kind=F("ask__kind"))
               .values("r_key", "r_day", "r_kind").annotate(n=Count("id")))
    inner, params = grouped.query.sql_with_params()
    if level == "workspace":
        inner = f"SELECT NULL AS r_key, g.r_day, g.r_kind, SUM(g.n) AS n FROM ({inner}) g GROUP BY g.r_day, g.r_kind"
    program = "NULL" if level == "workspace" else "u.r_key"
    head = _insert({"proof_by_kind": _json_object_agg("u.r_kind", "u.n")}).replace("__PROGRAM__", program).replace("__DAY__", "u.r_day")
    group = "u.r_day" if level == "workspace" else "u.r_key, u.r_day"
    sql = (f"{head} FROM ({inner}) u WHERE 1 = 1 GROUP BY {group} "
           f"{_conflict(level)} DO UPDATE SET proof_by_kind = excluded.proof_by_kind, computed_at = excluded.computed_at")
    return sql, [r.workspace.pk, _now(), *params]


def _people_facts(r: _Range) -> list[tuple[str, list]]:
    S = AssignmentState
    cols = PEOPLE_WORK_COLUMNS
    one = {"actions": Count("id")}
    facts = [
        _fact(r.within(ActivityEvent.objects.all(), "occurred_at"), day=r.day_of("occurred_at"), key=F("advocate_id"),
              measures={"actions": Count("id"), "events": Count("id")}, columns=cols),
        _fact(r.within(Assignment.objects.all(), "accepted_at"), day=r.day_of("accepted_at"), key=F("advocate_id"),
              measures=one, columns=cols),
        _fact(r.within(Assignment.objects.all(), "submitted_at"), day=r.day_of("submitted_at"), key=F("advocate_id"),
              measures=one, columns=cols),
        _fact(r.within(Assignment.objects.filter(state=S.APPROVED), "decided_at"), day=r.day_of("decided_at"),
              key=F("advocate_id"), measures={"actions": Count("id"), "completions": Count("id")}, columns=cols),
        _fact(r.within(Referral.objects.all(), "created_at"), day=r.day_of("created_at"), key=F("advocate_id"),
              measures=one, columns=cols),
        _fact(r.within(SurveyResponse.objects.all(), "answered_at"), day=r.day_of("answered_at"), key=F("advocate_id"),
              measures=one, columns=cols),
        _fact(r.within(Redemption.objects.all(), "created_at"), day=r.day_of("created_at"), key=F("advocate_id"),
              measures=one, columns=cols),
        _fact(r.within(Conversion.objects.filter(attributed=True, referral__isnull=False), "occurred_at"),
              day=r.day_of("occurred_at"), key=F("referral__advocate_id"), measures={"conversions": Count("id")},
              columns=cols),
        _fact(r.within(LedgerEntry.objects.filter(earned_entries()), "created_at"), day=r.day_of("created_at"),
              key=F("advocate_id"), measures={"points_earned": Sum("amount")}, columns=cols),
    ]
    return facts


def _write_people(cursor, r: _Range, bounds: list) -> None:
    """AdvocateDay of the range: the per-person facts are grouped once into a temporary
    table (which also holds each person's event count, summed into ``events``); rows that
    changed are upserted (an unchanged row is not written again: an hourly rerun of a
    busy day rewrites only the people who did something since), and rows of the range
    that are no longer produced are deleted."""
    union_sql, params = _union(_people_facts(r))
    sums = ", ".join(f"COALESCE(SUM(u.{c}), 0) AS {c}" for c in PEOPLE_WORK_COLUMNS)
    postgres = connection.vendor == "postgresql"
    cursor.execute(f"DROP TABLE IF EXISTS {WORK_TABLE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {WORK_TABLE} {'ON COMMIT DROP ' if postgres else ''}AS "
        f"SELECT u.r_key AS advocate_id, u.r_day AS day, {sums} FROM ({union_sql}) u GROUP BY u.r_key, u.r_day",
        params,
    )
    # An index (the stale-row delete probes it) and, on Postgres, statistics for the plans.
    cursor.execute(f"CREATE INDEX {WORK_TABLE}_key ON {WORK_TABLE} (advocate_id, day)")
    if postgres:
        cursor.execute(f"ANALYZE {WORK_TABLE}")
    columns = ", ".join(PEOPLE_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in PEOPLE_COLUMNS)
    changed = " OR ".join(f"{PEOPLE_TABLE}.{c} <> excluded.{c}" for c in PEOPLE_COLUMNS)
    cursor.execute(
        f"INSERT INTO {PEOPLE_TABLE} (workspace_id, advocate_id, day, {columns}) "
        f"SELECT %s, t.advocate_id, t.day, {', '.join(f't.{c}' for c in PEOPLE_COLUMNS)} FROM {WORK_TABLE} t "
        f"WHERE {' OR '.join(f't.{c} > 0' for c in PEOPLE_COLUMNS)} "
        f"ON CONFLICT (workspace_id, day, advocate_id) DO UPDATE SET {updates} WHERE {changed}",
        [r.workspace.pk],
    )
    cursor.execute(
        # NOT IN over the work table: one hash of it, not a probe per row of the range.
        f"DELETE FROM {PEOPLE_TABLE} WHERE workspace_id = %s AND day >= %s AND day <= %s "
        f"AND (advocate_id, day) NOT IN (SELECT t.advocate_id, t.day FROM {WORK_TABLE} t)",
        bounds,
    )


def _events_upsert(r: _Range) -> tuple[str, list]:
    """``events`` of the workspace rows, from the per-person counts of the work table (the
    events are read once, for both)."""
    head = _insert({"events": "SUM(t.events)"}).replace("__PROGRAM__", "NULL").replace("__DAY__", "t.day")
    sql = (f"{head} FROM {WORK_TABLE} t WHERE t.events > 0 GROUP BY t.day "
           f"{_conflict('workspace')} DO UPDATE SET events = excluded.events, computed_at = excluded.computed_at")
    return sql, [r.workspace.pk, _now()]


def _drop_work_table(cursor) -> None:
    # Postgres would drop it at commit, but a rollup inside an outer transaction runs
    # several chunks before any commit.
    cursor.execute(f"DROP TABLE IF EXISTS {WORK_TABLE}")


def _days_table(r: _Range) -> tuple[str, list]:
    """The range's days as a derived table (day, window_start): one SELECT per day."""
    ops = connection.ops
    day_rows, day_params = [], []
    d = r.start
    while d <= r.end:
        day_rows.append("SELECT %s AS day, %s AS window_start")
        day_params += [ops.adapt_datefield_value(d), ops.adapt_datefield_value(d - timedelta(days=ACTIVE_WINDOW_DAYS - 1))]
        d += timedelta(days=1)
    return " UNION ALL ".join(day_rows), day_params


def _program_people_upsert(r: _Range, *, existing_only: bool = False) -> tuple[str, list]:
    """active_advocates of the program rows: distinct people with activity in the program
    in the 90 days up to the day (assignments accepted, submitted or approved, referral
    leads and conversions through the program's codes, points earned in it)."""
    window = _Range(r.workspace, r.start - timedelta(days=ACTIVE_WINDOW_DAYS - 1), r.end)
    S = AssignmentState

    def people(qs, field, program="program_id", advocate="advocate_id"):
        grouped = (window.within(qs, field).order_by()
                   .annotate(r_key=F(program), r_day=window.day_of(field), r_adv=F(advocate))
                   .values("r_key", "r_day", "r_adv").distinct())
        sql, params = grouped.query.sql_with_params()
        return f"SELECT q.r_key, q.r_day, q.r_adv FROM ({sql}) q", list(params)

    union_sql, union_params = _union([
        people(Assignment.objects.all(), "accepted_at"),
        people(Assignment.objects.all(), "submitted_at"),
        people(Assignment.objects.filter(state=S.APPROVED), "decided_at"),
        people(Referral.objects.all(), "created_at"),
        people(Conversion.objects.filter(attributed=True, referral__isnull=False), "occurred_at",
               program="referral__program_id", advocate="referral__advocate_id"),
        people(LedgerEntry.objects.filter(earned_entries(), program_id__isnull=False), "created_at"),
    ])
    days_sql, day_params = _days_table(r)
    head = _insert({"active_advocates": "COUNT(DISTINCT u.r_adv)"}).replace("__PROGRAM__", "u.r_key").replace("__DAY__", "d.day")
    sql = (f"{head} FROM ({days_sql}) d JOIN ({union_sql}) u ON u.r_day >= d.window_start AND u.r_day <= d.day "
           f"WHERE 1 = 1{_program_filter('program')}{_existing_day('d.day') if existing_only else ''} "
           f"GROUP BY u.r_key, d.day "
           f"{_conflict('program')} DO UPDATE SET active_advocates = excluded.active_advocates")
    return sql, [r.workspace.pk, _now(), *day_params, *union_params, r.workspace.pk,
                 *([r.workspace.pk] if existing_only else [])]


# People whose first AdvocateDay ever is the given day (one %s: the workspace id).
_NEW_ADVOCATES = (f"SELECT COUNT(*) FROM {PEOPLE_TABLE} a WHERE a.workspace_id = %%s AND a.day = %s "
                  f"AND NOT EXISTS (SELECT 1 FROM {PEOPLE_TABLE} b WHERE b.workspace_id = a.workspace_id "
                  "AND b.advocate_id = a.advocate_id AND b.day < a.day)")


def _existing_day(day: str) -> str:
    """Only days that already have a workspace row (one %s: the workspace id)."""
    return (f" AND EXISTS (SELECT 1 FROM {METRIC_TABLE} e WHERE e.workspace_id = %s AND e.program_id IS NULL "
            f"AND e.day = {day})")


def _levels_upsert(r: _Range, *, existing_only: bool = False) -> tuple[str, list]:
    """The workspace row of every day of the range (so even a quiet day has one): active
    and new advocates from AdvocateDay, and the points outstanding at the day's end (the
    ledger's total before the range, plus a running sum of the range's days)."""
    days_sql, day_params = _days_table(r)
    before = (LedgerEntry.objects.filter(workspace=r.workspace, created_at__lt=r.since)
              .aggregate(total=Sum("amount"))["total"] or 0)
    ledger = (r.within(LedgerEntry.objects.all(), "created_at").order_by().annotate(r_day=r.day_of("created_at"))
              .values("r_day").annotate(total=Sum("amount")))
    ledger_sql, ledger_params = ledger.query.sql_with_params()
    ws = r.workspace.pk
    head = _insert({
        "active_advocates": (f"(SELECT COUNT(DISTINCT a.advocate_id) FROM {PEOPLE_TABLE} a WHERE a.workspace_id = %s "
                             "AND a.day >= d.window_start AND a.day <= d.day)"),
        "new_advocates": f"({_NEW_ADVOCATES % 'd.day'})",
        "points_outstanding": ("%s + SUM(COALESCE(l.total, 0)) OVER (ORDER BY d.day ROWS BETWEEN UNBOUNDED PRECEDING "
                               "AND CURRENT ROW)"),
    }).replace("__PROGRAM__", "NULL").replace("__DAY__", "d.day")
    existing = _existing_day("d.day") if existing_only else ""
    sql = (f"{head} FROM ({days_sql}) d LEFT JOIN ({ledger_sql}) l ON l.r_day = d.day WHERE 1 = 1{existing} "
           f"{_conflict('workspace')} DO UPDATE SET active_advocates = excluded.active_advocates, "
           "new_advocates = excluded.new_advocates, points_outstanding = excluded.points_outstanding, "
           "computed_at = excluded.computed_at")
    # Placeholders in order: workspace id, the three subqueries' (active, new, before), computed_at, days, ledger.
    params = [ws, ws, ws, before, _now(), *day_params, *ledger_params, *([ws] if existing_only else [])]
    return sql, params


def _now():
    return connection.ops.adapt_datetimefield_value(timezone.now())
