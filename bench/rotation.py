"""Benchmark of ask rotation (PRODUCT.md "Scale": 100k eligible advocates and 100 open
asks in under 30 seconds, set-based, with a number of queries per ask that does not grow
with the advocates).

Builds, in a database of its own (DATABASE_URL's name + "_rotation_bench", dropped and
created anew each time), one workspace with 100,000 active advocates (tags, personas,
types, tenure and scores varied) of whom half were offered an older ask 20 to 80 days ago
(so the ordering keys "oldest last_asked_at" and "fewest offers in 90 days" have real
work to do, while nobody is held back by fatigue), and 100 open asks (capacity 10,
overbook 2: 20 offers each, 2,000 in all). Then runs ``rotate_asks`` once with email
muted and prints the wall time, the offers made, and the queries per ask.

    make bench                                  # runs bench/run.py, which runs this too
    DATABASE_URL=postgres://… .venv/bin/python bench/rotation.py [--advocates N] [--asks N] [--explain]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advocacy.settings")
os.environ.setdefault("STATIC_MANIFEST", "0")

from bench.databases import drop_bench_database, use_bench_database

LIMIT_SECONDS = 30.0



def seed(workspace, *, advocates: int, asks: int, rng: random.Random, surveyed: float = 0.0):
    """Bulk-insert the advocates, their tags and history, and the open asks."""
    from django.db import connection
    from django.utils import timezone

    from advocacy.models import (
        Advocate,
        AdvocateTag,
        AdvocateType,
        Contact,
        ContactKind,
        Expressiveness,
        Motivation,
        Stage,
        Tag,
    )
    from programs.models import (
        Ask,
        AskAudienceTag,
        AskKind,
        AskStatus,
        Assignment,
        AssignmentState,
        Effort,
        Program,
    )

    now = timezone.now()
    today = now.date()
    tags = Tag.objects.bulk_create([Tag(workspace=workspace, name=n) for n in
                                    ("fintech", "healthcare", "retail", "enterprise", "smb", "payments", "analytics", "beta")])
    kinds_pref = [[], [], [], ["review"], ["testimonial", "speaking"], ["referral"], ["beta_feedback", "survey"]]
    expressiveness = [e for e in Expressiveness.values]
    batch = 5000
    for start in range(0, advocates, batch):
        Advocate.objects.bulk_create([
            Advocate(
                workspace=workspace, email=f"p{i}@bench.example", name=f"Person {i}", stage=Stage.ACTIVE,
                type=rng.choice([AdvocateType.CUSTOMER] * 8 + [AdvocateType.PARTNER, AdvocateType.EMPLOYEE]),
                motivation=rng.choice(Motivation.values), expressiveness=rng.choice(expressiveness),
                customer_since=today - timedelta(days=rng.randint(5, 2000)),
                renewal_date=today - timedelta(days=rng.randint(-200, 200)),
                preferred_ask_kinds=rng.choice(kinds_pref), score=rng.randint(0, 100),
                lifetime_points=rng.choice([0, 0, 0, 200, 1200, 6000]),
            )
            for i in range(start, min(start + batch, advocates))
        ], batch_size=batch)
    ids = list(Advocate.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True))
    links = [AdvocateTag(workspace=workspace, advocate_id=a, tag=t) for a in ids for t in rng.sample(tags, rng.randint(0, 2))]
    AdvocateTag.objects.bulk_create(links, batch_size=batch)

    # Half of them were offered an older (now closed) ask 20 to 80 days ago.
    program = Program.objects.create(workspace=workspace, name="Bench program")
    old = Ask.objects.create(workspace=workspace, program=program, kind=AskKind.REVIEW, title="Last quarter's review",
                             status=AskStatus.CLOSED, closed_at=now - timedelta(days=15))
    asked = rng.sample(ids, len(ids) // 2)
    when = {a: now - timedelta(days=rng.randint(20, 80), minutes=rng.randint(0, 1440)) for a in asked}
    for start in range(0, len(asked), batch):
        chunk = asked[start:start + batch]
        Assignment.objects.bulk_create([
            Assignment(workspace=workspace, ask=old, program=program, advocate_id=a,
                       state=rng.choice([AssignmentState.DECLINED, AssignmentState.EXPIRED, AssignmentState.APPROVED]),
                       offered_at=when[a], offer_expires_at=when[a] + timedelta(days=7), decided_at=when[a] + timedelta(days=3))
            for a in chunk
        ], batch_size=batch)
    made = dict(Assignment.objects.filter(workspace=workspace, ask=old).values_list("advocate_id", "pk"))
    Contact.objects.bulk_create([Contact(workspace=workspace, advocate_id=a, kind=ContactKind.OFFER,
                                         subject=f"assignment:{made[a]}", at=when[a]) for a in asked], batch_size=batch)
    with connection.cursor() as cursor:  # last_asked_at of the people asked, in one statement
        cursor.execute(
            "UPDATE advocacy_advocate a SET last_asked_at = s.offered_at FROM programs_assignment s "
            "WHERE s.advocate_id = a.id AND s.ask_id = %s", [old.pk],
        )

    # Optionally, a share of them surveyed four times this month: the budget holds them back.
    busy = rng.sample(ids, int(len(ids) * surveyed))
    Contact.objects.bulk_create([Contact(workspace=workspace, advocate_id=a, kind=ContactKind.SURVEY, subject=f"survey:{a}:{n}",
                                         at=now - timedelta(days=3 + 6 * n)) for a in busy for n in range(4)], batch_size=batch)

    kinds = [AskKind.REVIEW, AskKind.REFERRAL, AskKind.TESTIMONIAL, AskKind.BETA_FEEDBACK, AskKind.SOCIAL_SHARE,
             AskKind.CASE_STUDY, AskKind.REFERENCE_CALL, AskKind.SURVEY, AskKind.COMMUNITY_ANSWER, AskKind.SPEAKING]
    open_asks = []
    for i in range(asks):
        kind = kinds[i % len(kinds)]
        open_asks.append(Ask(
            workspace=workspace, program=program, kind=kind, title=f"Ask {i}", capacity=10, overbook=2,
            effort=Effort.LARGE if kind == AskKind.CASE_STUDY else Effort.SMALL,
            audience_types=[AdvocateType.CUSTOMER] if i % 3 == 0 else [],
            audience_expressiveness=["extraverted", "ambiverted"] if kind == AskKind.SPEAKING else [],
            tenure_min_days=30 if i % 4 == 0 else None,
            prospect_industry="fintech" if kind == AskKind.REFERENCE_CALL else "",
            prospect_company_size="enterprise" if kind == AskKind.REFERENCE_CALL else "",
            created_at=now - timedelta(minutes=asks - i),
        ))
    open_asks = Ask.objects.bulk_create(open_asks)
    AskAudienceTag.objects.bulk_create([AskAudienceTag(workspace=workspace, ask=a, tag=tags[7])
                                        for a in open_asks if a.kind == AskKind.BETA_FEEDBACK])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return open_asks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--advocates", type=int, default=100_000)
    parser.add_argument("--asks", type=int, default=100)
    parser.add_argument("--surveyed", type=float, default=0.0,
                        help="share of the advocates surveyed 4 times this month (held back by the budget)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the first ask's selection")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--profile", action="store_true", help="print the Python profile of the run")
    args = parser.parse_args()

    name = use_bench_database("rotation_bench", fresh=True)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from advocacy.models import Workspace
    from advocacy.notifications import muted
    from advocacy.scoping import workspace_scope
    from programs.models import Assignment, AssignmentState
    from programs.rotation import eligible_advocates, held_advocates, rotate_asks

    rng = random.Random(4)
    workspace = Workspace.objects.create(slug="bench-rotation", name="Rotation bench")
    with workspace_scope(workspace):
        started = time.perf_counter()
        asks = seed(workspace, advocates=args.advocates, asks=args.asks, rng=rng, surveyed=args.surveyed)
        print(f"seed: {args.advocates:,} active advocates (half with an offer 20-80 days ago, "
              f"{args.surveyed:.0%} held back by the budget), "
              f"{len(asks)} open asks in {time.perf_counter() - started:.1f} s")

        if args.explain:
            with connection.cursor() as cursor:
                from programs.fatigue import offer_rules

                rules = offer_rules(workspace=workspace, now=timezone.now(), ask_kind=asks[0].kind)
                fields = ["pk", "max_asks_per_month", "last_asked_at"] + [r.flag for r in rules] + [f for r in rules for f in r.figures]
                for qs in (eligible_advocates(asks[0]).values_list("pk", flat=True)[:20],
                           held_advocates(asks[0]).values(*fields)[:200]):
                    sql, params = qs.query.sql_with_params()
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    print("\n".join(r[0] for r in cursor.fetchall()))

        profiler = cProfile.Profile() if args.profile else None
        with muted(), CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            result = rotate_asks(workspace=workspace)
            elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        per_ask = len(queries) / max(result.asks_open, 1)  # the run's own dozen statements included
        offered = Assignment.objects.filter(workspace=workspace, state=AssignmentState.OFFERED).count()
        people = (Assignment.objects.filter(workspace=workspace, ask__in=asks)
                  .values("advocate_id").order_by().distinct().count())
        print(f"rotation: {result.offers:,} offers to {people:,} advocates for {result.asks_served} of {result.asks_open} asks "
              f"over {args.advocates:,} active advocates in {elapsed:.2f} s, {result.held:,} held back recorded "
              f"({len(queries)} queries, {per_ask:.1f} per ask); {offered:,} offers outstanding")
        if args.explain:  # where the time went, by kind of statement
            by_kind: dict[str, list[float]] = {}
            for q in queries.captured_queries:
                sql = q["sql"]
                kind = ("select eligible" if '"last_asked_at" AS "last_asked_at" FROM "advocacy_advocate"' in sql
                        else "select held" if '"held_' in sql and "advocacy_advocate" in sql else " ".join(sql.split()[:3]))
                by_kind.setdefault(kind, []).append(float(q["time"]))
            for kind, times in sorted(by_kind.items(), key=lambda kv: -sum(kv[1]))[:10]:
                print(f"  {sum(times):7.2f} s in {len(times):4} x {kind[:80]} (max {max(times) * 1000:.0f} ms)")
        with muted():
            started = time.perf_counter()
            again = rotate_asks(workspace=workspace)
        print(f"rotation again right after: {again.offers} offers in {time.perf_counter() - started:.2f} s")
    verdict = "within" if elapsed < LIMIT_SECONDS else "OVER"
    print(f"rotation: {verdict} the {LIMIT_SECONDS:.0f} s limit")
    if not args.keep:
        drop_bench_database(name)
    if elapsed >= LIMIT_SECONDS:
        sys.exit(1)


if __name__ == "__main__":
    main()
