"""Ask rotation (PRODUCT.md "Ask rotation"): every 15 minutes, each open ask with free
places is offered to the advocates first in line, in set-based SQL.

For each open ask (status open, deadline not passed, program active), nearest deadline
first, then oldest:

    wanted = (capacity - approved - in progress) * overbook - outstanding offers

(``programs.services.ask_progress``; the counts of every ask come from one query, and are
counted again for the ask once its row is locked). The ``wanted`` advocates first in line
among ``eligible_advocates(ask, now)`` are offered the ask through
``programs.services.create_offers`` (bulk; counts the contacts, moves ``last_asked_at``,
emails after commit).

Eligible: ``active``, not erased, matching the audience (any of the ask's tags, its types,
motivations and expressiveness, lifetime points at least the threshold of its minimum tier,
a customer for at least ``tenure_min_days`` and at most ``tenure_max_days`` days when set:
an advocate without ``customer_since`` is outside any tenure window), onboarded when the
program has onboarding steps, never offered this ask, not offered anything earlier in this
run (``last_asked_at >= now``: ``create_offers`` stamps the run's ``now``), and held back by
no fatigue rule (``programs.fatigue.offer_rules``).

First in line: for a reference call naming the prospect's industry, company size or use
case, the advocates with the most tags equal (case-insensitively) to those values come
first (an advocate's tags carry their industry, size and use cases: "fintech", "enterprise",
"payments"); then never asked; then the oldest ``last_asked_at``; then the fewest offers in
the last 90 days; then the best fit (one point each for a persona that fits the kind, the
kind's timing window, and the kind being among the advocate's preferred kinds); then the
higher score; then the lower id. Persona: introverted advocates fit reviews, beta feedback,
surveys, referrals and community answers; extraverted ones testimonials, speaking, social
shares and case studies; ambiverted ones both. Timing: a review 30 to 90 days after
``customer_since``; a referral within 90 days of ``customer_since`` or within 30 days after
``renewal_date``.

Held back: for each ask served, the advocates of its audience (never offered it) whom a
fatigue rule holds back and who stand in line before the last one offered (they would have
been offered but for fatigue; all of them when the ask cannot fill its places), up to
``HOLD_RECORD_LIMIT``, are recorded as ``ContactHold`` rows with the first rule's reason
and its detail (one upsert); the ask's older holds, of people no longer held, are removed,
so an ask's holds say why people are held now.

One ranked query per ask reads the line with a held flag per row (the selection of
offers and holds); then create_offers' four statements, the holds' reasons, their upsert
and the clean-up: a constant number of queries per ask whatever the number of advocates.
The fatigue rules are uncorrelated sets the database hashes once per query, and the
sets every ask shares (suppressed, over budget, resting) are written once per run to a
temporary table; the line is read in the order of the ``advocate_rotation_queue`` index
and recent offers are only counted for the people near its head (bench/README.md has the
figures: about 7 s for 100,000 advocates and 100 asks). Two runs in one workspace never overlap: a
PostgreSQL advisory lock (elsewhere, a cache lock) makes the second one skip, each ask's
row is locked while it is served (as a manager's offer locks it), and the unique
(workspace, ask, advocate) key backs both. A run right after another makes no offer: the
offers just made are outstanding, and fatigue holds the people just asked.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from advocacy.budget import (
    Rule,
    annotate_holds,
    count_of,
    held_q,
    holds_by_advocate,
    record_holds,
    workspace_zone,
)
from advocacy.models import Advocate, AdvocateTag, ContactHold, Expressiveness, Stage, Workspace
from advocacy.scoping import workspace_scope

from .fatigue import offer_rules
from .models import Ask, AskAudienceTag, AskKind, AskStatus, Assignment, Enrollment, ProgramStatus
from .services import ask_counts, ask_progress, create_offers

log = logging.getLogger(__name__)

HOLD_RECORD_LIMIT = 200
HELD_TABLE = "rotation_held_people"  # a temporary table of one run (one connection)
OFFER_HISTORY = timedelta(days=90)
NEVER = datetime(1, 1, 2, tzinfo=UTC)  # "never asked" where a date is needed (sorts first)
LOCK_KEY = zlib.crc32(b"programs.rotate_asks") & 0x7FFFFFFF
LOCK_TTL = 60 * 60

# PRODUCT.md "Advocates": which kinds of ask suit which persona.
INTROVERTED_KINDS = frozenset({AskKind.REVIEW, AskKind.BETA_FEEDBACK, AskKind.SURVEY, AskKind.REFERRAL, AskKind.COMMUNITY_ANSWER})
EXTRAVERTED_KINDS = frozenset({AskKind.TESTIMONIAL, AskKind.SPEAKING, AskKind.SOCIAL_SHARE, AskKind.CASE_STUDY})


@dataclass(frozen=True)
class RotationResult:
    offers: int = 0  # offers made
    asks_served: int = 0  # asks that received at least one offer
    held: int = 0  # held-back advocates recorded (ContactHold rows written)
    asks_open: int = 0  # open asks with free places that were considered
    skipped: bool = False  # another run of this workspace was under way


@dataclass(frozen=True)
class _Run:
    """What one run loads once for all its asks."""

    workspace: Workspace
    now: datetime
    today: date
    tags: dict[int, list[int]]
    tiers: dict[str, int]
    # Reasons of the fatigue rules whose held people the run wrote to HELD_TABLE.
    materialised: frozenset[str] = frozenset()


def open_asks(workspace: Workspace, now: datetime) -> QuerySet[Ask]:
    """The asks rotation serves: open, deadline not passed, program active; nearest
    deadline first, then oldest."""
    return (
        Ask.objects.filter(workspace_id=workspace.pk, status=AskStatus.OPEN, program__status=ProgramStatus.ACTIVE)
        .filter(Q(deadline__isnull=True) | Q(deadline__gt=now))
        .select_related("program")
        .order_by(F("deadline").asc(nulls_last=True), "created_at", "pk")
    )


def _audience_tags(asks: list[Ask]) -> dict[int, list[int]]:
    tags: dict[int, list[int]] = {}
    for ask_id, tag_id in AskAudienceTag.objects.filter(ask__in=[a.pk for a in asks]).values_list("ask_id", "tag_id"):
        tags.setdefault(ask_id, []).append(tag_id)
    return tags


def _tiers(workspace: Workspace) -> dict[str, int]:
    from rewards.services import tier_ladder

    return {t.name: t.threshold for t in tier_ladder(workspace)}


def _prepare(ask: Ask, now: datetime | None, tag_ids: list[int] | None, tiers: dict[str, int] | None) -> _Run:
    workspace = ask.workspace
    now = now or timezone.now()
    if tag_ids is None:
        tag_ids = _audience_tags([ask]).get(ask.pk, [])
    if tiers is None:
        tiers = _tiers(workspace) if ask.min_tier else {}
    return _Run(workspace, now, timezone.localdate(now, workspace_zone(workspace)), {ask.pk: tag_ids}, tiers)


def _in_set(ids: QuerySet) -> Case:
    """``id IN (ids)`` kept as a set the database hashes once per query. A plain IN or
    EXISTS becomes a semi-join, and after the fatigue filters the planner expects so few
    rows that it probes an index once per advocate (tens of thousands of probes); a CASE
    is not turned into a join."""
    return Case(When(pk__in=ids, then=Value(True)), default=Value(False), output_field=BooleanField())


def _candidates(ask: Ask, run: _Run) -> QuerySet[Advocate]:
    """Active advocates of the audience, onboarded, never offered this ask and not offered
    anything earlier in this run: eligible unless a fatigue rule holds them back."""
    ws = run.workspace.pk
    qs = Advocate.objects.filter(workspace_id=ws, stage=Stage.ACTIVE, erased_at__isnull=True)
    tag_ids = run.tags.get(ask.pk)
    if tag_ids:
        qs = qs.filter(_in_set(AdvocateTag.objects.filter(workspace_id=ws, tag_id__in=tag_ids).values("advocate_id")))
    if ask.audience_types:
        qs = qs.filter(type__in=ask.audience_types)
    if ask.audience_motivations:
        qs = qs.filter(motivation__in=ask.audience_motivations)
    if ask.audience_expressiveness:
        qs = qs.filter(expressiveness__in=ask.audience_expressiveness)
    if ask.min_tier:
        threshold = run.tiers.get(ask.min_tier)
        # A tier that no longer exists cannot be checked: nobody qualifies (fail closed).
        qs = qs.filter(lifetime_points__gte=threshold) if threshold is not None else qs.filter(pk__in=[])
    if ask.tenure_min_days is not None:
        qs = qs.filter(customer_since__lte=run.today - timedelta(days=ask.tenure_min_days))
    if ask.tenure_max_days is not None:
        qs = qs.filter(customer_since__gte=run.today - timedelta(days=ask.tenure_max_days))
    if ask.program.requires_onboarding:
        qs = qs.filter(_in_set(Enrollment.objects.filter(
            workspace_id=ws, program_id=ask.program_id, onboarded_at__isnull=False,
        ).values("advocate_id")))
    # NOT IN (the ask's advocates): PostgreSQL hashes the list once per query.
    qs = qs.exclude(pk__in=Assignment.objects.filter(workspace_id=ws, ask_id=ask.pk).values("advocate_id"))
    return qs.exclude(last_asked_at__gte=run.now)


def _one_if(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _fit(ask: Ask, today: date) -> Case | Value:
    """Persona, timing and preference fit of each advocate for ``ask`` (0 to 3)."""
    parts = []
    if ask.kind in INTROVERTED_KINDS:
        parts.append(_one_if(Q(expressiveness__in=[Expressiveness.INTROVERTED, Expressiveness.AMBIVERTED])))
    elif ask.kind in EXTRAVERTED_KINDS:
        parts.append(_one_if(Q(expressiveness__in=[Expressiveness.EXTRAVERTED, Expressiveness.AMBIVERTED])))
    if ask.kind == AskKind.REVIEW:
        parts.append(_one_if(Q(customer_since__lte=today - timedelta(days=30), customer_since__gte=today - timedelta(days=90))))
    elif ask.kind == AskKind.REFERRAL:
        parts.append(_one_if(
            Q(customer_since__gte=today - timedelta(days=90), customer_since__lte=today)
            | Q(renewal_date__lte=today, renewal_date__gte=today - timedelta(days=30))
        ))
    # A JSON list of kinds: jsonb containment on PostgreSQL; SQLite has no such operator,
    # and matching the quoted kind in the list's text is the same test there.
    if connection.vendor == "postgresql":
        parts.append(_one_if(Q(preferred_ask_kinds__contains=[ask.kind])))
    else:
        parts.append(_one_if(Q(preferred_ask_kinds__icontains=f'"{ask.kind}"')))
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _reference_match(ask: Ask, workspace: Workspace) -> Case | None:
    """How many of the prospect's industry, size and use case the advocate's tags name
    (None when the ask is not a reference call naming any)."""
    values = ask.prospect if ask.kind == AskKind.REFERENCE_CALL else []
    if not values:
        return None
    parts = [
        _one_if(Q(pk__in=AdvocateTag.objects.filter(workspace_id=workspace.pk, tag__name__iexact=v).values("advocate_id")))
        for v in values
    ]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _ranked(qs: QuerySet[Advocate], ask: Ask, run: _Run, limit: int | None = None) -> QuerySet[Advocate]:
    """First in line first (see the module's docstring). With ``limit``, the offers of
    the last 90 days are only counted for the people who can be among the first ``limit``:
    those asked no later than the ``limit``-th in ``last_asked_at`` order (the count only
    breaks ties of ``last_asked_at``), which keeps the per-row work off the long tail."""
    order = []
    match = _reference_match(ask, run.workspace)
    if match is not None:
        qs = qs.annotate(reference_match=match)
        order.append(F("reference_match").desc())
    recent_offers = Assignment.objects.filter(
        workspace_id=run.workspace.pk, advocate_id=OuterRef("pk"), offered_at__gt=run.now - OFFER_HISTORY,
        offered_at__lte=run.now,
    )
    skip = Q(last_asked_at__isnull=True)  # never asked: no offers to count
    if limit and match is None:
        cutoff = (qs.order_by(F("last_asked_at").asc(nulls_first=True))
                  .annotate(asked=Coalesce("last_asked_at", Value(NEVER))).values("asked")[limit - 1:limit])
        skip |= Q(last_asked_at__gt=Subquery(cutoff))
    qs = qs.annotate(
        offers_90d=Case(When(skip, then=Value(0)), default=count_of(recent_offers), output_field=IntegerField()),
        fit=_fit(ask, run.today),
    )
    order += [F("last_asked_at").asc(nulls_first=True), F("offers_90d").asc(), F("fit").desc(), F("score").desc(), F("pk").asc()]
    return qs.order_by(*order)


def eligible_advocates(
    ask: Ask, now: datetime | None = None, *, limit: int | None = None, tag_ids: list[int] | None = None,
    tiers: dict[str, int] | None = None,
) -> QuerySet[Advocate]:
    """The advocates rotation may offer ``ask`` to at ``now``, first in line first (one
    query). Pass ``limit`` when only the first ``limit`` will be read (then slice
    ``[:limit]``): it spares counting the recent offers of the rest. ``tag_ids`` and
    ``tiers`` are passed by a run that loaded them for every ask at once."""
    run = _prepare(ask, now, tag_ids, tiers)
    return _eligible(ask, run, offer_rules(workspace=run.workspace, now=run.now, ask_kind=ask.kind), limit)


def _eligible(ask: Ask, run: _Run, rules: list[Rule], limit: int | None) -> QuerySet[Advocate]:
    return _ranked(_candidates(ask, run).exclude(_held_condition(run, rules)), ask, run, limit)


def _held_condition(run: _Run, rules: list[Rule]) -> Q:
    """``held_q(rules)``, reading the people held by the rules every ask shares from the
    run's table (written once) rather than computing those sets again for each ask."""
    if not run.materialised:
        return held_q(rules)
    rest = [r for r in rules if r.reason not in run.materialised]
    return Q(pk__in=RawSQL(f"SELECT advocate_id FROM {HELD_TABLE}", [])) | held_q(rest)


@contextmanager
def _shared_holds(workspace: Workspace, now: datetime) -> Iterator[frozenset[str]]:
    """Write the people held back from any offer by a set-based rule (suppressed, over
    budget, resting) to a temporary table for the run, and yield those rules' reasons.
    The sets do not change during a run for anyone the run may still offer an ask (the
    people it offers are out of the run anyway), so each ask reads them instead of
    aggregating the workspace's contacts and approvals again. Dropped afterwards."""
    rules = [r for r in offer_rules(workspace=workspace, now=now) if isinstance(r.held, QuerySet)]
    if not rules:
        yield frozenset()
        return
    sets = [r.held.order_by() for r in rules]
    union = sets[0].union(*sets[1:], all=True) if len(sets) > 1 else sets[0]
    sql, params = union.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {HELD_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {HELD_TABLE} AS {sql}", params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {HELD_TABLE}")
    try:
        yield frozenset(r.reason for r in rules)
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {HELD_TABLE}")
        except DatabaseError:  # the connection is broken or its transaction aborted: the table goes with it
            log.warning("could not drop %s", HELD_TABLE, exc_info=True)


def held_advocates(
    ask: Ask, now: datetime | None = None, *, tag_ids: list[int] | None = None, tiers: dict[str, int] | None = None,
) -> QuerySet[Advocate]:
    """The audience's advocates a fatigue rule holds back from ``ask``, first in line
    first, annotated with each rule's flag and figures (``advocacy.budget.holds_of``)."""
    run = _prepare(ask, now, tag_ids, tiers)
    return _held(ask, run, offer_rules(workspace=run.workspace, now=run.now, ask_kind=ask.kind))


def _held(ask: Ask, run: _Run, rules: list[Rule]) -> QuerySet[Advocate]:
    return annotate_holds(_ranked(_candidates(ask, run).filter(held_q(rules)), ask, run), rules)


def _line(ask: Ask, run: _Run, rules: list[Rule], wanted: int) -> tuple[list[int], list[int]]:
    """Who is offered ``ask`` and who is held back from it: one ranked query over the
    audience, each row flagged held or not, reading the first ``wanted +
    HOLD_RECORD_LIMIT`` rows. The offers are the first ``wanted`` not held; the holds are
    the held ones ranked before the last of them (those who would have been offered but
    for fatigue), or all of them (up to the limit) when the ask cannot fill its places.
    Only when more than HOLD_RECORD_LIMIT held people stand first in line does a second
    query read the rest of the line without them. The loop below only splits that bounded
    result."""
    span = wanted + HOLD_RECORD_LIMIT
    rows = list(
        _ranked(_candidates(ask, run), ask, run, span)
        .annotate(held=ExpressionWrapper(_held_condition(run, rules), output_field=BooleanField()))
        .values_list("pk", "held")[:span]
    )
    offers: list[int] = []
    held: list[int] = []
    for pk, is_held in rows:
        if len(offers) == wanted:
            break
        if not is_held:
            offers.append(pk)
        elif len(held) < HOLD_RECORD_LIMIT:
            held.append(pk)
    if len(offers) < wanted and len(rows) == span:
        offers = list(_eligible(ask, run, rules, wanted).values_list("pk", flat=True)[:wanted])
    return offers, held


def _record_holds(ask: Ask, run: _Run, rules: list[Rule], advocate_ids: list[int]) -> int:
    """Record why these advocates were held back from ``ask`` (one select of the reasons
    and their figures, one upsert) and forget the ask's holds that no longer apply."""
    found = holds_by_advocate(workspace=run.workspace, advocate_ids=advocate_ids, rules=rules)
    holds = {pk: reasons[0] for pk, reasons in found.items() if reasons}
    written = record_holds(workspace_id=run.workspace.pk, subject_type="ask", subject_id=ask.pk, holds=holds, at=run.now)
    ContactHold.objects.filter(workspace_id=run.workspace.pk, subject_type="ask", subject_id=ask.pk, held_at__lt=run.now).delete()
    return written


def _serve(ask: Ask, run: _Run) -> tuple[int, int]:
    """Offer one ask to those first in line and record who is held back: (offers, holds)."""
    with transaction.atomic():
        locked = Ask.objects.select_for_update(of=("self",)).select_related("program").filter(
            pk=ask.pk, workspace_id=run.workspace.pk, status=AskStatus.OPEN,
        ).first()
        if locked is None:  # closed meanwhile
            return 0, 0
        wanted = ask_progress(locked, ask_counts([locked]).get(locked.pk, {})).wanted
        if wanted <= 0:
            return 0, 0
        rules = offer_rules(workspace=run.workspace, now=run.now, ask_kind=locked.kind)
        offer_ids, held_ids = _line(locked, run, rules, wanted)
        made = create_offers(ask=locked, advocate_ids=offer_ids, now=run.now, unless_asked_after=run.now) if offer_ids else []
        held = _record_holds(locked, run, rules, held_ids)
    return len(made), held


@contextmanager
def exclusive_run(workspace: Workspace) -> Iterator[bool]:
    """Yield True when this process may rotate ``workspace`` (no other run is under way):
    a PostgreSQL session advisory lock, or a cache lock elsewhere (the demo's SQLite also
    serialises writers)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_KEY, workspace.pk % 2**31])
            got = bool(cursor.fetchone()[0])
        try:
            yield got
        finally:
            if got:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_KEY, workspace.pk % 2**31])
        return
    key = f"programs:rotate_asks:{workspace.pk}"
    got = cache.add(key, "1", timeout=LOCK_TTL)
    try:
        yield got
    finally:
        if got:
            cache.delete(key)


@contextmanager
def _without_jit() -> Iterator[None]:
    """PostgreSQL's JIT compiles a query in ~100 ms, and the line's cost estimate (which
    counts correlated subqueries its LIMIT never runs) passes the JIT threshold: off for
    the run's session, then back to the server's setting."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'off', false)")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET jit")


def rotate_asks(*, workspace: Workspace, now: datetime | None = None) -> RotationResult:
    """Offer every open ask with free places to the advocates first in line (see the
    module's docstring). Safe to run at any time and twice: the second run finds the
    places taken by the first one's outstanding offers."""
    now = now or timezone.now()
    with workspace_scope(workspace), exclusive_run(workspace) as mine:
        if not mine:
            log.info("rotation of workspace %s skipped: another run is under way", workspace.pk)
            return RotationResult(skipped=True)
        asks = list(open_asks(workspace, now))
        counts = ask_counts(asks)
        asks = [a for a in asks if ask_progress(a, counts.get(a.pk, {})).wanted > 0]
        if not asks:
            return RotationResult()
        tiers = _tiers(workspace) if any(a.min_tier for a in asks) else {}
        offers = served = held = 0
        with _without_jit(), _shared_holds(workspace, now) as materialised:
            run = _Run(workspace, now, timezone.localdate(now, workspace_zone(workspace)), _audience_tags(asks), tiers,
                       materialised)
            for ask in asks:
                ask.workspace = workspace
                made, recorded = _serve(ask, run)
                offers += made
                served += 1 if made else 0
                held += recorded
    log.info("rotation of workspace %s: %s offers for %s of %s asks, %s held back", workspace.pk, offers, served, len(asks), held)
    return RotationResult(offers=offers, asks_served=served, held=held, asks_open=len(asks))
