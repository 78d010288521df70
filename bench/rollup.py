"""Benchmark of the daily rollup (PRODUCT.md "Scale": a rollup of one day over 1M events
within 2x of a hand-written GROUP BY over the same rows).

Builds, in a database of its own (DATABASE_URL's name + "_rollup_bench", dropped and
created anew), one workspace (Europe/Berlin) with 50,000 advocates and, on the measured
day, 1,000,000 activity events (20 per person, written with generate_series) and
proportional other rows: 20,000 assignments (offered, accepted, submitted, decided), 50,000
clicks, 5,000 referrals, 1,000 conversions, 5,000 survey sends and 2,000 answers, 20,000
ledger entries, 1,000 deal outcomes and 100 costs over 5 programs; plus 250,000 events the
day before and 89 days of AdvocateDay history (5,000 people a day) for the 90-day
active-advocates window.

Then, for each of ``--rounds`` rounds, in turn: ``rollup_days`` of that day as a first
computation (the day's rollup rows deleted and vacuumed away first, untimed), the same
again as a rerun (what the hourly and nightly jobs do), and the hand-written reference:
the same metric families' raw SELECTs written by hand in SQL (GROUP BY over the same rows,
results fetched, nothing written). Prints the medians and the ratios; exits non-zero when
either ratio is above 2.0. bench/README.md has the method and the figures.

    DATABASE_URL=postgres://… .venv/bin/python bench/rollup.py [--events N] [--rounds N] [--explain] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advocacy.settings")
os.environ.setdefault("STATIC_MANIFEST", "0")

from bench.databases import drop_bench_database, use_bench_database

LIMIT_RATIO = 2.0
DAY = date(2026, 3, 10)
ZONE = "Europe/Berlin"



def seed(workspace, *, people: int, events: int) -> None:
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from django.db import connection

    from advocacy.models import Advocate
    from insights.models import AdvocateDay, ProgramCost
    from nps.models import Survey, SurveyResponse, SurveySend
    from programs.models import Ask, AskKind, Assignment, AssignmentState, Outcome, Program
    from referrals.models import Click, Conversion, Referral, ReferralCode
    from rewards.models import LedgerEntry

    zone = ZoneInfo(ZONE)
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=zone)
    ws = workspace
    batch = 5000

    def at(i: int, spread: int = 86_400) -> datetime:
        return start + timedelta(seconds=(i * 37) % spread)

    Advocate.objects.bulk_create([Advocate(workspace=ws, email=f"p{i}@bench.example", name=f"Person {i}")
                                  for i in range(people)], batch_size=batch)
    ids = list(Advocate.objects.filter(workspace=ws).order_by("pk").values_list("pk", flat=True))
    first = ids[0]
    kinds = ["email_open", "email_click", "event_attended", "purchase", "renewal", "social_mention", "review_posted",
             "community_post", "support_ticket"]
    with connection.cursor() as cursor:
        for offset, n in ((0, events), (-1, events // 4)):
            cursor.execute(
                "INSERT INTO advocacy_activityevent (workspace_id, advocate_id, kind, occurred_at, value, properties, created_at) "
                "SELECT %s, %s + (g::bigint * 7919) %% %s, (%s::text[])[1 + g %% 9], %s::timestamptz + (g %% 86400) * interval '1 second', "
                "NULL, '{}'::jsonb, now() FROM generate_series(0, %s) g",
                [ws.pk, first, people, kinds, start + timedelta(days=offset), n - 1],
            )
    programs = Program.objects.bulk_create([Program(workspace=ws, name=f"Program {p}") for p in range(5)])
    ask_kinds = [AskKind.REVIEW, AskKind.REFERRAL, AskKind.CASE_STUDY, AskKind.REFERENCE_CALL, AskKind.SOCIAL_SHARE]
    asks = Ask.objects.bulk_create([Ask(workspace=ws, program=programs[a % 5], kind=ask_kinds[a % 5], title=f"Ask {a}")
                                    for a in range(50)])
    S = AssignmentState
    states = [S.OFFERED, S.ACCEPTED, S.SUBMITTED, S.APPROVED, S.DECLINED, S.EXPIRED]
    assignments = []
    for i in range(20_000):
        ask, state = asks[i % 50], states[i % 6]
        offered = at(i, 20_000)
        assignments.append(Assignment(
            workspace=ws, ask=ask, program=ask.program, advocate_id=ids[(i // 50) % people], state=state, offered_at=offered,
            offer_expires_at=offered + timedelta(days=7),
            accepted_at=offered + timedelta(hours=1) if state in (S.ACCEPTED, S.SUBMITTED, S.APPROVED) else None,
            submitted_at=offered + timedelta(hours=2) if state in (S.SUBMITTED, S.APPROVED) else None,
            decided_at=offered + timedelta(hours=3) if state in (S.APPROVED, S.DECLINED, S.EXPIRED) else None,
        ))
    assignments = Assignment.objects.bulk_create(assignments, batch_size=batch)
    codes = ReferralCode.objects.bulk_create([ReferralCode(workspace=ws, program=programs[i % 5], advocate_id=ids[i],
                                                           code=f"C{i:09d}") for i in range(min(5000, people))], batch_size=batch)
    Click.objects.bulk_create([Click(workspace=ws, code=codes[i % len(codes)], at=at(i), ip_hash=f"{i % 997:064d}",
                                     flagged=i % 50 == 0) for i in range(50_000)], batch_size=batch)
    referrals = Referral.objects.bulk_create([
        Referral(workspace=ws, code=codes[i % len(codes)], program=codes[i % len(codes)].program,
                 advocate_id=codes[i % len(codes)].advocate_id,
                 referee_email=f"r{i}@x.example", created_at=at(i)) for i in range(5000)], batch_size=batch)
    Conversion.objects.bulk_create([
        Conversion(workspace=ws, referral=referrals[i], external_id=f"x{i}", referee_email=f"r{i}@x.example",
                   value=Decimal("100.00"), currency="EUR" if i % 10 else "USD", occurred_at=at(i)) for i in range(1000)])
    survey = Survey.objects.create(workspace=ws, name="Bench survey")
    sends = SurveySend.objects.bulk_create([SurveySend(workspace=ws, survey=survey, advocate_id=ids[i], channel="email",
                                                       sent_at=at(i)) for i in range(min(5000, people))], batch_size=batch)
    SurveyResponse.objects.bulk_create([
        SurveyResponse(workspace=ws, survey=survey, send=sends[i], advocate_id=ids[i], score=i % 11,
                       category="promoter" if i % 11 >= 9 else "passive" if i % 11 >= 7 else "detractor",
                       channel="email", advocate_type="customer", advocate_stage="active", answered_at=at(i))
        for i in range(min(2000, people))])
    LedgerEntry.objects.bulk_create([
        LedgerEntry(workspace=ws, advocate_id=ids[i % people], kind="earn_ask" if i % 4 else "redeem",
                    amount=50 if i % 4 else -20, reason="bench", idempotency_key=f"k{i}", balance_after=0,
                    program_id=programs[i % 5].pk if i % 4 else None, created_at=at(i)) for i in range(20_000)],
        batch_size=batch)
    approved = [a for a in assignments if a.state == S.APPROVED][:1000]
    Outcome.objects.bulk_create([
        Outcome(workspace=ws, assignment=a, program=a.program, advocate_id=a.advocate_id, kind="deal",
                amount=Decimal("1000.00"), deal_status=["open", "won", "lost"][i % 3], created_at=at(i), updated_at=at(i),
                decided_at=at(i) if i % 3 else None)
        for i, a in enumerate(approved)])
    ProgramCost.objects.bulk_create([ProgramCost(workspace=ws, program=programs[i % 5], category="software",
                                                 amount=Decimal("10.00"), incurred_on=DAY) for i in range(100)])
    AdvocateDay.objects.bulk_create([
        AdvocateDay(workspace=ws, advocate_id=ids[(d * 5000 + j) % people], day=DAY - timedelta(days=d), actions=1)
        for d in range(1, 90) for j in range(min(5000, people))], batch_size=20_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def reference(cursor, ws, since, until, currency: str) -> int:
    """The hand-written GROUP BYs over the same rows: every family's raw SELECT, fetched."""
    z = ZONE
    day = f"(%s AT TIME ZONE '{z}')::date"
    w = "workspace_id = %s AND {c} >= %s AND {c} < %s"

    def rng(c: str) -> str:
        return w.format(c=c)

    p = [ws.pk, since, until]
    statements = [
        # events
        (f"SELECT {day % 'occurred_at'}, count(*) FROM advocacy_activityevent WHERE {rng('occurred_at')} GROUP BY 1", p),
        # per person and day (AdvocateDay)
        (f"""SELECT advocate_id, d, sum(a), sum(c), sum(v), sum(pts) FROM (
              SELECT advocate_id, {day % 'occurred_at'} d, count(*) a, 0 c, 0 v, 0 pts FROM advocacy_activityevent
               WHERE {rng('occurred_at')} GROUP BY 1, 2
              UNION ALL SELECT advocate_id, {day % 'accepted_at'}, 1, 0, 0, 0 FROM programs_assignment WHERE {rng('accepted_at')}
              UNION ALL SELECT advocate_id, {day % 'submitted_at'}, 1, 0, 0, 0 FROM programs_assignment WHERE {rng('submitted_at')}
              UNION ALL SELECT advocate_id, {day % 'decided_at'}, 1, 1, 0, 0 FROM programs_assignment
               WHERE {rng('decided_at')} AND state = 'approved'
              UNION ALL SELECT advocate_id, {day % 'created_at'}, 1, 0, 0, 0 FROM referrals_referral WHERE {rng('created_at')}
              UNION ALL SELECT advocate_id, {day % 'answered_at'}, 1, 0, 0, 0 FROM nps_surveyresponse WHERE {rng('answered_at')}
              UNION ALL SELECT advocate_id, {day % 'created_at'}, 1, 0, 0, 0 FROM rewards_redemption WHERE {rng('created_at')}
              UNION ALL SELECT r.advocate_id, {day % 'v.occurred_at'}, 0, 0, 1, 0 FROM referrals_conversion v
               JOIN referrals_referral r ON r.id = v.referral_id WHERE v.{rng('occurred_at')} AND v.attributed
              UNION ALL SELECT advocate_id, {day % 'created_at'}, 0, 0, 0, amount FROM rewards_ledgerentry
               WHERE {rng('created_at')} AND (kind LIKE 'earn_%%' OR (kind = 'adjust' AND amount > 0))
            ) t GROUP BY 1, 2""", p * 9),
        # asks
        (f"""SELECT program_id, d, sum(o), sum(a), sum(c), sum(dc), sum(e) FROM (
              SELECT program_id, {day % 'offered_at'} d, 1 o, 0 a, 0 c, 0 dc, 0 e FROM programs_assignment WHERE {rng('offered_at')}
              UNION ALL SELECT program_id, {day % 'accepted_at'}, 0, 1, 0, 0, 0 FROM programs_assignment WHERE {rng('accepted_at')}
              UNION ALL SELECT program_id, {day % 'decided_at'}, 0, 0, (state = 'approved')::int, (state = 'declined')::int,
               (state = 'expired')::int FROM programs_assignment WHERE {rng('decided_at')}
            ) t GROUP BY ROLLUP (d, program_id)""", p * 3),
        (f"""SELECT s.program_id, {day % 's.decided_at'}, k.kind, count(*) FROM programs_assignment s
             JOIN programs_ask k ON k.id = s.ask_id WHERE s.{rng('decided_at')} AND s.state = 'approved'
             GROUP BY ROLLUP (2, 3, 1)""", p),
        # referrals
        (f"""SELECT k.program_id, {day % 'c.at'}, count(*) FROM referrals_click c JOIN referrals_referralcode k ON k.id = c.code_id
             WHERE c.{rng('at')} AND NOT c.flagged GROUP BY ROLLUP (2, 1)""", p),
        (f"SELECT program_id, {day % 'created_at'}, count(*) FROM referrals_referral WHERE {rng('created_at')} GROUP BY ROLLUP (2, 1)", p),
        (f"""SELECT r.program_id, {day % 'v.occurred_at'}, count(*), sum(v.value) FILTER (WHERE v.currency = %s)
             FROM referrals_conversion v JOIN referrals_referral r ON r.id = v.referral_id
             WHERE v.{rng('occurred_at')} AND v.attributed GROUP BY ROLLUP (2, 1)""", [currency, *p]),
        # nps
        (f"""SELECT {day % 'answered_at'}, count(*) FILTER (WHERE category = 'promoter'),
             count(*) FILTER (WHERE category = 'passive'), count(*) FILTER (WHERE category = 'detractor')
             FROM nps_surveyresponse WHERE {rng('answered_at')} GROUP BY 1""", p),
        (f"SELECT {day % 'sent_at'}, count(*) FROM nps_surveysend WHERE {rng('sent_at')} GROUP BY 1", p),
        # points
        (f"""SELECT program_id, {day % 'created_at'}, sum(amount) FILTER (WHERE kind LIKE 'earn_%%' OR (kind = 'adjust' AND amount > 0)),
             -sum(amount) FILTER (WHERE kind IN ('redeem', 'donate')), sum(amount)
             FROM rewards_ledgerentry WHERE {rng('created_at')} GROUP BY ROLLUP (2, 1)""", p),
        ("SELECT sum(amount) FROM rewards_ledgerentry WHERE workspace_id = %s AND created_at < %s", [ws.pk, since]),
        # money
        (f"""SELECT program_id, {day % 'created_at'}, sum(amount) FROM programs_outcome
             WHERE {rng('created_at')} AND kind = 'deal' GROUP BY ROLLUP (2, 1)""", p),
        (f"""SELECT program_id, {day % 'decided_at'}, sum(amount) FROM programs_outcome
             WHERE {rng('decided_at')} AND kind = 'deal' AND deal_status = 'won' GROUP BY ROLLUP (2, 1)""", p),
        ("SELECT program_id, incurred_on, sum(amount) FROM insights_programcost WHERE workspace_id = %s "
         "AND incurred_on = %s GROUP BY ROLLUP (2, 1)", [ws.pk, DAY]),
    ]
    # program rows' active advocates: distinct people with activity in the program in the 90 days up to the day
    window = [ws.pk, since - timedelta(days=89), until]
    statements.append((f"""SELECT program_id, count(DISTINCT advocate_id) FROM (
          SELECT program_id, advocate_id FROM programs_assignment WHERE {rng('accepted_at')}
          UNION ALL SELECT program_id, advocate_id FROM programs_assignment WHERE {rng('submitted_at')}
          UNION ALL SELECT program_id, advocate_id FROM programs_assignment WHERE {rng('decided_at')} AND state = 'approved'
          UNION ALL SELECT program_id, advocate_id FROM referrals_referral WHERE {rng('created_at')}
          UNION ALL SELECT r.program_id, r.advocate_id FROM referrals_conversion v JOIN referrals_referral r ON r.id = v.referral_id
           WHERE v.{rng('occurred_at')} AND v.attributed
          UNION ALL SELECT program_id, advocate_id FROM rewards_ledgerentry WHERE {rng('created_at')} AND program_id IS NOT NULL
           AND (kind LIKE 'earn_%%' OR (kind = 'adjust' AND amount > 0))
        ) t GROUP BY 1""", window * 6))
    cursor.execute("SET LOCAL jit = off")  # as the rollup's transaction
    rows = 0
    for sql, params in statements:
        cursor.execute(sql, params)
        rows += len(cursor.fetchall())
    # people: active in the 90 days up to the day, new that day (read from the per-person rows)
    cursor.execute("SELECT count(DISTINCT advocate_id) FROM insights_advocateday WHERE workspace_id = %s AND day BETWEEN %s AND %s",
                   [ws.pk, DAY - timedelta(days=89), DAY])
    cursor.execute("SELECT count(*) FROM insights_advocateday a WHERE a.workspace_id = %s AND a.day = %s AND NOT EXISTS "
                   "(SELECT 1 FROM insights_advocateday b WHERE b.workspace_id = a.workspace_id AND b.advocate_id = a.advocate_id "
                   "AND b.day < a.day)", [ws.pk, DAY])
    return rows


def _forget_day(workspace) -> None:
    """The day as if never computed: its rows deleted and vacuumed away (a dead row with the
    same key would cost the next insert a heap visit per unique-index check)."""
    from django.db import connection

    from insights.models import AdvocateDay, DailyMetric

    AdvocateDay.objects.filter(workspace=workspace, day=DAY).delete()
    DailyMetric.objects.filter(workspace=workspace, day=DAY).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM insights_advocateday, insights_dailymetric")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each rollup statement")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    name = use_bench_database("rollup_bench", fresh=True)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from advocacy.models import Workspace
    from advocacy.scoping import workspace_scope
    from insights.models import AdvocateDay, DailyMetric
    from insights.rollups import rollup_days

    workspace = Workspace.objects.create(slug="bench-rollup", name="Rollup bench", timezone=ZONE, currency="USD")
    with workspace_scope(workspace):
        started = time.perf_counter()
        seed(workspace, people=args.people, events=args.events)
        print(f"seed: {args.people:,} advocates, {args.events:,} events on {DAY} (+{args.events // 4:,} the day before) "
              f"and proportional rows in {time.perf_counter() - started:.1f} s")
        from zoneinfo import ZoneInfo

        since = datetime.combine(DAY, datetime.min.time(), tzinfo=ZoneInfo(ZONE))
        until = since + timedelta(days=1)
        rollup_days(workspace=workspace, start=DAY, end=DAY)  # warm-up (caches, first plan)
        with connection.cursor() as cursor:
            reference(cursor, workspace, since, until, workspace.currency)

        fresh, ours, theirs = [], [], []
        for _ in range(args.rounds):
            # A first computation of the day (its rows gone), then a rerun, then the reference.
            _forget_day(workspace)
            started = time.perf_counter()
            rollup_days(workspace=workspace, start=DAY, end=DAY)
            fresh.append(time.perf_counter() - started)
            started = time.perf_counter()
            rollup_days(workspace=workspace, start=DAY, end=DAY)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                reference(cursor, workspace, since, until, workspace.currency)
            theirs.append(time.perf_counter() - started)
        row = DailyMetric.objects.get(workspace=workspace, program=None, day=DAY)
        people = AdvocateDay.objects.filter(workspace=workspace, day=DAY).count()
        print(f"rollup result: events={row.events:,} offers={row.offers:,} clicks={row.referral_clicks:,} "
              f"active={row.active_advocates:,} new={row.new_advocates:,} points_outstanding={row.points_outstanding:,}; "
              f"{people:,} advocate days")
        first, mine, ref = statistics.median(fresh), statistics.median(ours), statistics.median(theirs)
        ratio = max(first, mine) / ref

        def rounds(times):
            return ", ".join(f"{t * 1000:.0f}" for t in times)

        print(f"rollup_days, first computation of the day ({args.events:,} events): median {first * 1000:.0f} ms "
              f"(rounds: {rounds(fresh)}); ratio {first / ref:.2f}")
        print(f"rollup_days, rerun of the day (the hourly/nightly case): median {mine * 1000:.0f} ms "
              f"(rounds: {rounds(ours)}); ratio {mine / ref:.2f}")
        print(f"hand-written GROUP BY over the same rows: median {ref * 1000:.0f} ms (rounds: {rounds(theirs)})")
        print(f"ratio (the slower of the two): {ratio:.2f} ({'within' if ratio <= LIMIT_RATIO else 'OVER'} "
              f"the {LIMIT_RATIO:.1f} limit)")

        if args.explain:
            for label in ("first computation", "rerun"):
                if label == "first computation":
                    _forget_day(workspace)
                with CaptureQueriesContext(connection) as queries:
                    rollup_days(workspace=workspace, start=DAY, end=DAY)
                print(f"statements of the {label}:")
                for q in queries.captured_queries:
                    print(f"-- {float(q['time']) * 1000:.0f} ms: {q['sql'][:140]}")
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    for q in queries.captured_queries:  # replayed in order, the writes explained
                        if q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")):
                            continue
                        if q["sql"].startswith(("INSERT", "DELETE", "CREATE TEMPORARY")):
                            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
                            print("\n".join(r[0] for r in cursor.fetchall()))
                        else:
                            cursor.execute(q["sql"])
                    raise RuntimeError("rollback")
            except RuntimeError:
                pass
    if not args.keep:
        drop_bench_database(name)
    if ratio > LIMIT_RATIO:
        sys.exit(1)


if __name__ == "__main__":
    main()
