"""The nightly recompute is set-based: 20,000 advocates with their events, NPS answers,
assignments and referrals are scored in a few seconds, with one read and one UPDATE per
chunk of 2,000 people, whatever their activity.

Measured on the shared 2-core machine (Postgres 15): 1.5 to 4 s for the recompute of
20,000 people (about 1.5 s of it in Python building the breakdowns). The bound below is
generous so a busy machine does not fail it, yet a per-person query (20,000+ round trips)
or a join planned as a nested loop on stale statistics (it took 80 s before the query
became a UNION ALL folded by person) would."""

from __future__ import annotations

import math
import random
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from advocacy.models import ActivityEvent, Advocate, EventKind, Stage
from advocacy.scoping import workspace_scope
from insights import scores
from insights.scores import recompute_scores
from nps.models import SurveyResponse, category_of
from programs.models import Assignment, AssignmentState
from referrals.models import Referral, ReferralState
from tests.factories import AskFactory
from tests.referrals.builders import make_code

pytestmark = pytest.mark.django_db

PEOPLE = 20_000
BOUND_SECONDS = 20.0


def build(workspace, now):
    rnd = random.Random(7)
    Advocate.objects.with_scopes_disabled().bulk_create([
        Advocate(workspace=workspace, email=f"p{i}@bench.example", name=f"Person {i}", stage=Stage.CANDIDATE,
                 customer_since=(now - timedelta(days=rnd.randint(0, 2000))).date() if i % 3 else None,
                 last_activity_at=now - timedelta(days=rnd.randint(0, 300)) if i % 2 else None)
        for i in range(PEOPLE)
    ], batch_size=5000)
    ids = list(Advocate.objects.with_scopes_disabled().filter(workspace=workspace).values_list("pk", flat=True))
    kinds = [EventKind.EMAIL_OPEN, EventKind.EMAIL_CLICK, EventKind.PURCHASE, EventKind.REVIEW_POSTED, EventKind.SUPPORT_TICKET]
    ActivityEvent.objects.with_scopes_disabled().bulk_create([
        ActivityEvent(workspace=workspace, advocate_id=rnd.choice(ids), kind=rnd.choice(kinds),
                      occurred_at=now - timedelta(days=rnd.randint(0, 200)))
        for _ in range(3 * PEOPLE)
    ], batch_size=5000)
    SurveyResponse.objects.with_scopes_disabled().bulk_create([
        SurveyResponse(workspace=workspace, advocate_id=rnd.choice(ids), score=(s := rnd.randint(0, 10)),
                       category=category_of(s), channel="api", advocate_type="customer", advocate_stage="candidate",
                       answered_at=now - timedelta(days=rnd.randint(0, 400)))
        for _ in range(PEOPLE // 2)
    ], batch_size=5000)
    asks = [AskFactory(program__workspace=workspace) for _ in range(20)]
    states = [AssignmentState.APPROVED, AssignmentState.DECLINED, AssignmentState.EXPIRED, AssignmentState.OFFERED]
    Assignment.objects.with_scopes_disabled().bulk_create([
        Assignment(workspace=workspace, ask=ask, program_id=ask.program_id, advocate_id=pk, state=rnd.choice(states),
                   offered_at=now - timedelta(days=40), offer_expires_at=now - timedelta(days=33),
                   accepted_at=now - timedelta(days=39) if pk % 2 else None)
        for ask in asks for pk in rnd.sample(ids, PEOPLE // 40)
    ], batch_size=5000)
    code = make_code(workspace)
    Referral.objects.with_scopes_disabled().bulk_create([
        Referral(workspace=workspace, code=code, program=code.program, advocate_id=code.advocate_id,
                 referee_email=f"r{i}@prospect.example", state=ReferralState.CONVERTED if i % 2 else ReferralState.LEAD)
        for i in range(200)
    ])


def test_twenty_thousand_scores_in_seconds_with_a_query_per_chunk(tenant_a, django_assert_num_queries):
    ws = tenant_a.workspace
    now = timezone.now()
    build(ws, now)
    total = Advocate.objects.with_scopes_disabled().filter(workspace=ws).count()
    chunks = math.ceil(total / scores.CHUNK)
    # One read, then per chunk: savepoint, UPDATE … FROM jsonb_to_recordset(…), release (the test runs in a transaction).
    with workspace_scope(ws), django_assert_num_queries(1 + 3 * chunks):
        started = time.perf_counter()
        written = recompute_scores(workspace=ws, now=now)
        elapsed = time.perf_counter() - started
    print(f"recompute of {written} advocates: {elapsed:.2f} s")
    assert written == total == PEOPLE + 2  # with the fixture's advocate and the referrer
    assert elapsed < BOUND_SECONDS
    with workspace_scope(ws):
        assert not Advocate.objects.filter(score_breakdown={}).exists()
        assert Advocate.objects.filter(score__gt=30).exists()
