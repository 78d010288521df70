"""The advocacy score (PRODUCT.md "Advocacy score"): 0-100 per advocate, stored on
``Advocate.score`` with ``Advocate.score_breakdown`` explaining it.

Each signal is normalised to 0..1; the workspace weights them (``score_weights``):

    score = round(100 * sum of weight*value / sum of weight)

Signals (``now`` is the moment of the recompute):

- ``nps``: the latest NPS answer (latest ``answered_at``, then highest id): promoter 1,
  passive 0.5, detractor 0; no answer yet 0.3.
- ``tenure``: days since ``customer_since`` / (3 * 365), capped at 1 (3 years and more);
  unknown or in the future 0.
- ``engagement``: activity events of the kinds email_open, email_click, event_attended,
  community_post and purchase with ``occurred_at`` in the 90 days up to ``now``:
  min(n / 20, 1), so 20 such events (about one every 4-5 days) count as full engagement.
- ``public_proof``: review_posted, testimonial and case_study events (any time) plus
  approved assignments of review, testimonial and case_study asks: min(n / 3, 1).
- ``referrals``: referrals of theirs that converted: min(n / 3, 1).
- ``asks``: 0.5 * min(completed / 5, 1) + 0.5 * accepted / answered, where completed are
  approved assignments, answered are offers they accepted, declined or let expire (offers
  still open or withdrawn before an answer do not count) and accepted those with an
  ``accepted_at``; never answered an offer: the rate part is 0.
- ``recency``: days since the last activity (the latest of ``last_activity_at`` kept by
  posted events, an NPS answer, accepting or submitting an assignment, a referral lead made
  with their code): 1 within 7 days, falling linearly to 0 at 180 days; none recorded 0.

The breakdown: ``{"signals": {name: {"label", "value", "weight", "points", "why"}},
"computed_at": iso}``, where ``points`` is the signal's contribution to the score
(100 * weight*value / sum of weight, one decimal), so the points add up to the score (within
rounding). Erased people are left out: erasure blanks their breakdown and it stays blank.

``recompute_scores`` is set-based: one query stacks the advocates and one uncorrelated
subquery per source table (``GROUP BY advocate``; a ranked one for the latest NPS answer),
each compiled from an ORM queryset, with ``UNION ALL`` and folds them by person (no join
whose plan could go quadratic on stale statistics). It is streamed with a server-side
cursor on Postgres (declared WITH HOLD outside a transaction, so it outlives each chunk's
commit). The results
are written back in chunks of 2,000: one ``UPDATE … FROM jsonb_to_recordset(…)`` per chunk
on Postgres, ``bulk_update`` on SQLite, each chunk in its own transaction so a workspace of
a million people never holds its rows locked for long. ``updated_at`` is left alone: a
nightly score change is not an edit of the person.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from advocacy.audit import log_action
from advocacy.budget import workspace_zone
from advocacy.errors import ValidationFailed
from advocacy.models import ActivityEvent, Advocate, EventKind, Workspace
from nps.models import Category, SurveyResponse
from programs.models import AskKind, Assignment, AssignmentState
from referrals.models import Referral, ReferralState

DEFAULT_WEIGHTS: dict[str, int] = {
    "nps": 20,
    "tenure": 10,
    "engagement": 20,
    "public_proof": 15,
    "referrals": 15,
    "asks": 15,
    "recency": 5,
}
SIGNALS = tuple(DEFAULT_WEIGHTS)
LABELS = {
    "nps": "Latest NPS",
    "tenure": "Tenure",
    "engagement": "Engagement (90 days)",
    "public_proof": "Public proof given",
    "referrals": "Referrals converted",
    "asks": "Asks completed and accepted",
    "recency": "Recent activity",
}
EXPLANATIONS = {
    "nps": "Their latest answer: promoter 1, passive 0.5, detractor 0; no answer yet 0.3.",
    "tenure": "Years as a customer, full at 3 years.",
    "engagement": "Email opens and clicks, events attended, community posts and purchases in the last 90 days; full at 20.",
    "public_proof": "Reviews, testimonials and case studies (posted events and approved asks); full at 3.",
    "referrals": "Referrals that became customers; full at 3.",
    "asks": "Half for asks completed (full at 5), half for the share of offers they accepted.",
    "recency": "Full when active in the last 7 days, falling to nothing at 180 days.",
}
MAX_WEIGHT = 1000
CHUNK = 2000

NPS_VALUE = {Category.PROMOTER: 1.0, Category.PASSIVE: 0.5, Category.DETRACTOR: 0.0}
NO_NPS_VALUE = 0.3
TENURE_FULL_DAYS = 3 * 365
ENGAGEMENT_KINDS = (EventKind.EMAIL_OPEN, EventKind.EMAIL_CLICK, EventKind.EVENT_ATTENDED, EventKind.COMMUNITY_POST,
                    EventKind.PURCHASE)
ENGAGEMENT_DAYS = 90
ENGAGEMENT_FULL = 20
PROOF_EVENT_KINDS = (EventKind.REVIEW_POSTED, EventKind.TESTIMONIAL, EventKind.CASE_STUDY)
PROOF_ASK_KINDS = (AskKind.REVIEW, AskKind.TESTIMONIAL, AskKind.CASE_STUDY)
PROOF_FULL = 3
REFERRALS_FULL = 3
ASKS_FULL = 5
RECENCY_FULL_DAYS = 7
RECENCY_ZERO_DAYS = 180


# --- Weights ------------------------------------------------------------------------------------


def _valid_weight(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_WEIGHT


def score_weights(workspace: Workspace) -> dict[str, int]:
    """The workspace's weights merged over the defaults. A stored entry that is not a valid
    weight (unknown name, not an integer from 0 to 1,000) is ignored; if nothing would be
    weighted, the defaults apply."""
    stored = workspace.score_weights if isinstance(workspace.score_weights, dict) else {}
    weights = {name: stored[name] if _valid_weight(stored.get(name)) else default for name, default in DEFAULT_WEIGHTS.items()}
    return weights if any(weights.values()) else dict(DEFAULT_WEIGHTS)


def clean_weights(weights: Any, *, current: dict[str, int] | None = None) -> dict[str, int]:
    """``weights`` checked and merged over ``current`` (the defaults when None)."""
    if not isinstance(weights, dict):
        raise ValidationFailed("Send the weights as an object of signal names and whole numbers.")
    unknown = sorted(str(k) for k in weights if k not in DEFAULT_WEIGHTS)
    if unknown:
        raise ValidationFailed(f"Unknown signal(s): {', '.join(unknown)}. The signals are {', '.join(SIGNALS)}.",
                               fields={k: ["Unknown signal."] for k in unknown})
    bad = {k: [f"A whole number from 0 to {MAX_WEIGHT:,}."] for k, v in weights.items() if not _valid_weight(v)}
    if bad:
        raise ValidationFailed(f"Each weight is a whole number from 0 to {MAX_WEIGHT:,}.", fields=bad)
    merged = {**(current or DEFAULT_WEIGHTS), **weights}
    merged = {name: merged[name] for name in SIGNALS}
    if not any(merged.values()):
        raise ValidationFailed("Give at least one signal a weight above 0.", fields={k: ["All weights are 0."] for k in SIGNALS})
    return merged


@transaction.atomic
def update_score_weights(*, workspace: Workspace, actor, weights: dict) -> dict[str, int]:
    """Change the workspace's score weights (audited) and recompute its scores after commit."""
    before = score_weights(workspace)
    after = clean_weights(weights, current=before)
    if after == before and workspace.score_weights == after:
        return after
    Workspace.objects.filter(pk=workspace.pk).update(score_weights=after)
    workspace.score_weights = after
    changes = [f"{LABELS[k].lower()} {before[k]} → {after[k]}" for k in SIGNALS if before[k] != after[k]]
    log_action(workspace=workspace, actor=actor, action="score.weights_changed",
               message="Score weights changed: " + ("; ".join(changes) if changes else "saved unchanged"),
               data={"before": before, "after": after})
    from advocacy.tasks import enqueue

    from .tasks import recompute_scores_in_workspace

    enqueue(recompute_scores_in_workspace, workspace_id=workspace.pk)
    return after


# --- Signals ------------------------------------------------------------------------------------


@dataclass
class Facts:
    """What the query read for one advocate."""

    id: int
    customer_since: date | None
    last_activity_at: datetime | None
    nps_score: int | None
    nps_category: str | None
    nps_answered_at: datetime | None
    engaged: int
    proof_events: int
    approved: int
    proof_asks: int
    accepted: int
    answered: int
    last_accepted: datetime | None
    last_submitted: datetime | None
    converted: int
    last_referral: datetime | None


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _day(value: datetime | date, zone) -> str:
    if isinstance(value, datetime):
        value = timezone.localtime(value, zone)
    return f"{value.day} {value:%b %Y}"


def _years(days: int) -> str:
    years, months = divmod(days * 12 // 365, 12)
    if years and months:
        return f"{_plural(years, 'year')} {_plural(months, 'month')}"
    if years:
        return _plural(years, "year")
    return _plural(months, "month") if months else _plural(days, "day")


def signal_values(facts: Facts, *, now: datetime, zone) -> dict[str, tuple[float, str]]:
    """Each signal's value (0..1) with the sentence that explains it."""
    out: dict[str, tuple[float, str]] = {}

    if facts.nps_category in NPS_VALUE:
        label = Category(facts.nps_category).label
        out["nps"] = (NPS_VALUE[facts.nps_category], f"{label} ({facts.nps_score}) on {_day(facts.nps_answered_at, zone)}")
    else:
        out["nps"] = (NO_NPS_VALUE, "No NPS answer yet")

    today = timezone.localtime(now, zone).date()
    if facts.customer_since and facts.customer_since <= today:
        days = (today - facts.customer_since).days
        since = f"since {facts.customer_since:%b %Y}"
        if days >= TENURE_FULL_DAYS:
            out["tenure"] = (1.0, f"Customer for {_years(days)} ({since})")
        else:
            out["tenure"] = (days / TENURE_FULL_DAYS, f"Customer for {_years(days)} ({since})")
    elif facts.customer_since:
        out["tenure"] = (0.0, f"Customer from {_day(facts.customer_since, zone)}, not yet")
    else:
        out["tenure"] = (0.0, "Customer since: not known")

    n = facts.engaged
    out["engagement"] = (min(n / ENGAGEMENT_FULL, 1.0),
                         f"{_plural(n, 'engagement event')} in the last {ENGAGEMENT_DAYS} days" if n
                         else f"No engagement events in the last {ENGAGEMENT_DAYS} days")

    proof = facts.proof_events + facts.proof_asks
    if proof:
        parts = [p for p in (facts.proof_events and f"{facts.proof_events:,} posted",
                             facts.proof_asks and f"{facts.proof_asks:,} through asks") if p]
        out["public_proof"] = (min(proof / PROOF_FULL, 1.0),
                               f"{_plural(proof, 'review, testimonial or case study', 'reviews, testimonials or case studies')}"
                               f" ({', '.join(parts)})")
    else:
        out["public_proof"] = (0.0, "No reviews, testimonials or case studies yet")

    c = facts.converted
    out["referrals"] = (min(c / REFERRALS_FULL, 1.0), f"{_plural(c, 'referral')} converted" if c else "No converted referrals yet")

    done_part = min(facts.approved / ASKS_FULL, 1.0)
    rate = facts.accepted / facts.answered if facts.answered else 0.0
    if facts.approved:
        why = f"{_plural(facts.approved, 'ask')} completed; accepted {facts.accepted:,} of {_plural(facts.answered, 'offer')}"
    elif facts.answered:
        why = f"Accepted {facts.accepted:,} of {_plural(facts.answered, 'offer')}; none completed yet"
    else:
        why = "No offers answered yet"
    out["asks"] = (0.5 * done_part + 0.5 * rate, why)

    moments = [m for m in (facts.last_activity_at, facts.nps_answered_at, facts.last_accepted, facts.last_submitted,
                           facts.last_referral) if m is not None and m <= now + timedelta(minutes=5)]
    if moments:
        last = max(moments)
        days = max((now - last).total_seconds() / 86400, 0.0)
        if days <= RECENCY_FULL_DAYS:
            value = 1.0
        elif days >= RECENCY_ZERO_DAYS:
            value = 0.0
        else:
            value = (RECENCY_ZERO_DAYS - days) / (RECENCY_ZERO_DAYS - RECENCY_FULL_DAYS)
        whole = int(days)
        ago = "today" if whole == 0 else f"{_plural(whole, 'day')} ago"
        out["recency"] = (value, f"Last active {ago} ({_day(last, zone)})")
    else:
        out["recency"] = (0.0, "No activity recorded")
    return out


def score_of(values: dict[str, tuple[float, str]], weights: dict[str, int], *, now: datetime) -> tuple[int, dict]:
    """The score and its breakdown from the signal values."""
    total = sum(weights.values()) or 1
    signals = {}
    exact = 0.0
    for name in SIGNALS:
        value, why = values[name]
        points = 100 * weights[name] * value / total
        exact += points
        signals[name] = {"label": LABELS[name], "value": round(value, 3), "weight": weights[name],
                         "points": round(points, 1), "why": why}
    score = max(0, min(100, int(exact + 0.5)))
    return score, {"signals": signals, "computed_at": now.isoformat()}


def score_reasons(advocate: Advocate, limit: int | None = None) -> list[str]:
    """The human reasons behind the score, strongest contribution first (signals that add
    nothing are left out). Reads the stored breakdown only."""
    signals = (advocate.score_breakdown or {}).get("signals") if isinstance(advocate.score_breakdown, dict) else None
    if not isinstance(signals, dict):
        return []
    ranked = sorted(
        (s for name, s in signals.items()
         if isinstance(s, dict) and (s.get("points") or 0) > 0 and s.get("why")
         and not (name == "nps" and s.get("value") == NO_NPS_VALUE)),  # "no answer yet" is no reason to pick someone
        key=lambda s: -(s.get("points") or 0),
    )
    reasons = [str(s["why"]) for s in ranked]
    return reasons[:limit] if limit else reasons


def breakdown_rows(breakdown) -> list[dict]:
    """The stored breakdown as rows in the signals' order (JSON keeps no order), for pages."""
    signals = breakdown.get("signals") if isinstance(breakdown, dict) else None
    if not isinstance(signals, dict):
        return []
    rows = []
    for name in SIGNALS:
        s = signals.get(name)
        if isinstance(s, dict):
            value = s.get("value") if isinstance(s.get("value"), int | float) else 0
            rows.append({"name": name, "label": s.get("label") or LABELS[name], "value": value,
                         "percent": round(100 * max(0, min(1, value))), "weight": s.get("weight"),
                         "points": s.get("points"), "why": s.get("why") or ""})
    return rows


# --- The set-based recompute ----------------------------------------------------------------------


def _only(qs: QuerySet, advocate_ids: list[int] | None) -> QuerySet:
    return qs.filter(advocate_id__in=advocate_ids) if advocate_ids is not None else qs


def _sources(workspace: Workspace, advocate_ids: list[int] | None, now: datetime) -> list[tuple[str, QuerySet, list[str]]]:
    """One grouped (or ranked) subquery per source table: (alias, queryset, its columns)."""
    since = now - timedelta(days=ENGAGEMENT_DAYS)
    latest_nps = (
        _only(SurveyResponse.objects.filter(workspace=workspace), advocate_ids)
        .annotate(rn=Window(RowNumber(), partition_by=[F("advocate_id")], order_by=[F("answered_at").desc(), F("id").desc()]))
        .filter(rn=1).order_by().values("advocate_id", "score", "category", "answered_at")
    )
    events = (
        _only(ActivityEvent.objects.filter(workspace=workspace, kind__in=ENGAGEMENT_KINDS + PROOF_EVENT_KINDS), advocate_ids)
        .order_by().values("advocate_id")
        .annotate(engaged=Count("id", filter=Q(kind__in=ENGAGEMENT_KINDS, occurred_at__gt=since, occurred_at__lte=now)),
                  proof_events=Count("id", filter=Q(kind__in=PROOF_EVENT_KINDS)))
    )
    answered = Q(accepted_at__isnull=False) | Q(state__in=[AssignmentState.DECLINED, AssignmentState.EXPIRED])
    assignments = (
        _only(Assignment.objects.filter(workspace=workspace), advocate_ids)
        .order_by().values("advocate_id")
        .annotate(approved=Count("id", filter=Q(state=AssignmentState.APPROVED)),
                  proof_asks=Count("id", filter=Q(state=AssignmentState.APPROVED, ask__kind__in=PROOF_ASK_KINDS)),
                  accepted=Count("id", filter=Q(accepted_at__isnull=False)),
                  answered=Count("id", filter=answered),
                  last_accepted=Max("accepted_at"), last_submitted=Max("submitted_at"))
    )
    referrals = (
        _only(Referral.objects.filter(workspace=workspace), advocate_ids)
        .order_by().values("advocate_id")
        .annotate(converted=Count("id", filter=Q(state=ReferralState.CONVERTED)), last_referral=Max("created_at"))
    )
    return [
        ("nps", latest_nps, ["score", "category", "answered_at"]),
        ("ev", events, ["engaged", "proof_events"]),
        ("asg", assignments, ["approved", "proof_asks", "accepted", "answered", "last_accepted", "last_submitted"]),
        ("ref", referrals, ["converted", "last_referral"]),
    ]


# The type of each fact column, so the NULLs that stand for it in the other branches of the
# UNION ALL resolve on Postgres (SQLite needs no casts).
FACT_TYPES = {
    "customer_since": "date", "last_activity_at": "timestamptz", "score": "integer", "category": "text",
    "answered_at": "timestamptz", "engaged": "bigint", "proof_events": "bigint", "approved": "bigint",
    "proof_asks": "bigint", "accepted": "bigint", "answered": "bigint", "last_accepted": "timestamptz",
    "last_submitted": "timestamptz", "converted": "bigint", "last_referral": "timestamptz",
}


def facts_query(workspace: Workspace, advocate_ids: list[int] | None, now: datetime) -> tuple[str, list]:
    """The one statement that reads every advocate's facts (of ``advocate_ids`` only, when
    given; erased people never): the advocates and each grouped subquery stacked with
    ``UNION ALL`` and folded into one row per person (``GROUP BY``). No join: a nested loop
    chosen on stale statistics cannot turn it quadratic; its cost is a scan of each source."""
    qn = connection.ops.quote_name
    people = Advocate.objects.filter(workspace=workspace, erased_at__isnull=True)
    if advocate_ids is not None:
        people = people.filter(pk__in=advocate_ids)
    sources = [("p", people.order_by().values("id", "customer_since", "last_activity_at"), "id",
                ["customer_since", "last_activity_at"])]
    sources += [(alias, qs, "advocate_id", cols) for alias, qs, cols in _sources(workspace, advocate_ids, now)]
    columns = [c for *_, cols in sources for c in cols]
    assert columns == list(FACT_TYPES)
    null = {c: f"CAST(NULL AS {t})" if connection.vendor == "postgresql" else "NULL" for c, t in FACT_TYPES.items()}
    branches: list[str] = []
    params: list = []
    for alias, qs, key, cols in sources:
        sql, sub_params = qs.query.sql_with_params()
        picked = [f"{alias}.{qn(c)} AS f{i}" if c in cols else f"{null[c]} AS f{i}" for i, c in enumerate(columns)]
        person = "1" if alias == "p" else "NULL"
        branches.append(f"SELECT {alias}.{qn(key)} AS k, {person} AS person, {', '.join(picked)} FROM ({sql}) {alias}")
        params.extend(sub_params)
    folded = ", ".join(f"MAX(u.f{i})" for i in range(len(columns)))
    return (f"SELECT u.k, {folded} FROM ({' UNION ALL '.join(branches)}) u "
            f"GROUP BY u.k HAVING MAX(u.person) = 1 ORDER BY u.k"), params


def _aware(value) -> datetime | None:
    if value is None or (isinstance(value, datetime) and value.tzinfo is not None):
        return value
    if isinstance(value, str):  # SQLite hands raw values back as text
        value = parse_datetime(value)
        if value is None:
            return None
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def _date(value) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return parse_date(str(value)[:10])


def _facts(row: tuple) -> Facts:
    (pk, since, last, score, category, answered_at, engaged, proof_events, approved, proof_asks, accepted, answered,
     last_accepted, last_submitted, converted, last_referral) = row
    return Facts(
        id=pk, customer_since=_date(since), last_activity_at=_aware(last), nps_score=score, nps_category=category,
        nps_answered_at=_aware(answered_at), engaged=engaged or 0, proof_events=proof_events or 0, approved=approved or 0,
        proof_asks=proof_asks or 0, accepted=accepted or 0, answered=answered or 0, last_accepted=_aware(last_accepted),
        last_submitted=_aware(last_submitted), converted=converted or 0, last_referral=_aware(last_referral),
    )


def _stream(sql: str, params: list) -> Iterator[list[tuple]]:
    """The rows in chunks; a server-side cursor on Postgres, so a million people are never
    all in memory."""
    if connection.vendor != "postgresql":  # SQLite (the demo): small, and read before writing to the same table
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        for start in range(0, len(rows), CHUNK):
            yield rows[start:start + CHUNK]
        return
    # Outside a transaction Django declares the cursor WITH HOLD, so it outlives each chunk's commit.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            yield rows


def _write(workspace: Workspace, results: list[tuple[int, int, dict]]) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {connection.ops.quote_name(Advocate._meta.db_table)} AS a
                   SET score = v.score, score_breakdown = v.breakdown
                  FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, score smallint, breakdown jsonb)
                 WHERE a.id = v.id AND a.workspace_id = %s
                """,
                # One JSON document: quoting one string is far cheaper than an array of 2,000 texts.
                [json.dumps([{"id": pk, "score": score, "breakdown": b} for pk, score, b in results]), workspace.pk],
            )
        return
    Advocate.objects.bulk_update(
        [Advocate(pk=pk, workspace_id=workspace.pk, score=score, score_breakdown=breakdown) for pk, score, breakdown in results],
        ["score", "score_breakdown"], batch_size=500,
    )


def recompute_scores(*, workspace: Workspace, advocate_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Recompute and store the score of every advocate of ``workspace`` (or of those in
    ``advocate_ids``); returns how many were written. Safe to run again at any time."""
    now = now or timezone.now()
    if advocate_ids is not None:
        advocate_ids = sorted({int(i) for i in advocate_ids})
        if not advocate_ids:
            return 0
        if len(advocate_ids) > CHUNK:  # keeps the statement's parameters few (SQLite caps them)
            return sum(recompute_scores(workspace=workspace, advocate_ids=advocate_ids[i:i + CHUNK], now=now)
                       for i in range(0, len(advocate_ids), CHUNK))
    weights = score_weights(workspace)
    zone = workspace_zone(workspace)
    sql, params = facts_query(workspace, advocate_ids, now)
    written = 0
    for rows in _stream(sql, params):
        results = []
        for row in rows:
            facts = _facts(row)
            score, breakdown = score_of(signal_values(facts, now=now, zone=zone), weights, now=now)
            results.append((facts.id, score, breakdown))
        with transaction.atomic():
            _write(workspace, results)
        written += len(results)
    return written
