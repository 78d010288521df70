"""The rollup scenario (issue 7 acceptance): a small world over two programs and two days
in New York (UTC-5 in February), whose every metric value is worked out by hand below.

Day 1 = 2026-02-10, day 2 = 2026-02-11 (local). People: alice, bob, carol, dan, hank, and
erin/frank/gina who were only active long ago (their AdvocateDay rows are history).
Programs: P1 (reviews; codeB is bob's) and P2 (referrals; codeA is alice's).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from advocacy.models import ActivityEvent, EventKind
from advocacy.scoping import workspace_scope
from insights.models import AdvocateDay, CostCategory, DailyMetric, ProgramCost
from insights.rollups import METRIC_COLUMNS, rollup_days
from nps.models import Category, ResponseChannel, Survey, SurveyChannel, SurveyResponse, SurveySend
from programs.models import (
    Ask,
    AskKind,
    Assignment,
    AssignmentState,
    DealStatus,
    Outcome,
    OutcomeKind,
    Program,
)
from referrals.models import Click, Conversion, Referral, ReferralCode, ReferralState
from rewards.models import CatalogItem, EntryKind, ItemKind, LedgerEntry, Redemption
from tests.factories import AdvocateFactory

NY = ZoneInfo("America/New_York")
D0, D1, D2 = date(2026, 2, 9), date(2026, 2, 10), date(2026, 2, 11)
S = AssignmentState


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NY)


class World:
    """Builds the scenario in a workspace; keeps handles for the tests."""

    def __init__(self, workspace):
        self.ws = ws = workspace
        ws.timezone, ws.currency = "America/New_York", "USD"
        ws.save(update_fields=["timezone", "currency"])
        with workspace_scope(ws):
            self._build()

    def person(self, name):
        return AdvocateFactory(workspace=self.ws, name=name, email=f"{name}@{self.ws.slug}.example")

    def event(self, who, kind, when):
        return ActivityEvent.objects.create(workspace=self.ws, advocate=who, kind=kind, occurred_at=when)

    def assignment(self, ask, who, *, offered, state=S.OFFERED, accepted=None, submitted=None, decided=None):
        return Assignment.objects.create(workspace=self.ws, ask=ask, program=ask.program, advocate=who, state=state,
                                         offered_at=offered, offer_expires_at=offered + timedelta(days=7),
                                         accepted_at=accepted, submitted_at=submitted, decided_at=decided)

    def ledger(self, who, kind, amount, when, program=None):
        return LedgerEntry.objects.create(workspace=self.ws, advocate=who, kind=kind, amount=amount, reason=kind,
                                          idempotency_key=str(uuid.uuid4()), balance_after=0, created_at=when,
                                          program_id=program.pk if program else None)

    def _build(self):
        ws = self.ws
        self.alice, self.bob, self.carol, self.dan, self.hank = (self.person(n) for n in ("alice", "bob", "carol", "dan", "hank"))
        erin, frank, gina = (self.person(n) for n in ("erin", "frank", "gina"))
        # History (already rolled up): bob 30 days ago (not new on day 1); erin 80 days before day 1 (active on
        # both days); frank 89 days before day 1 (active on day 1, out of the 90-day window on day 2); gina 90 days
        # before day 1 (never).
        for who, days in ((self.bob, 30), (erin, 80), (frank, 89), (gina, 90)):
            AdvocateDay.objects.create(workspace=ws, advocate=who, day=D1 - timedelta(days=days), actions=1)
        self.p1 = Program.objects.create(workspace=ws, name="P1 reviews")
        self.p2 = Program.objects.create(workspace=ws, name="P2 referrals")
        alice, bob, carol, dan, hank = self.alice, self.bob, self.carol, self.dan, self.hank

        # Activity events. 23:30 on day 1 in New York is 04:30 UTC on day 2: it counts on day 1; 23:50 on
        # day 0 is 04:50 UTC on day 1: it does not.
        self.event(alice, EventKind.EMAIL_OPEN, at(D1, 9))
        self.event(alice, EventKind.PURCHASE, at(D1, 23, 30))
        self.event(dan, EventKind.EMAIL_CLICK, at(D1, 0, 15))
        self.event(carol, EventKind.EMAIL_OPEN, at(D0, 23, 50))
        self.event(bob, EventKind.COMMUNITY_POST, at(D2, 10))
        self.event(hank, EventKind.EMAIL_OPEN, at(D2, 13))

        # Asks and assignments.
        review = Ask.objects.create(workspace=ws, program=self.p1, kind=AskKind.REVIEW, title="Review us")
        share = Ask.objects.create(workspace=ws, program=self.p1, kind=AskKind.SOCIAL_SHARE, title="Share")
        case = Ask.objects.create(workspace=ws, program=self.p2, kind=AskKind.CASE_STUDY, title="Case study")
        self.a1 = self.assignment(review, alice, offered=at(D1, 8), accepted=at(D1, 9, 30), submitted=at(D1, 12),
                                  decided=at(D2, 10), state=S.APPROVED)
        self.assignment(review, bob, offered=at(D1, 8), decided=at(D1, 15), state=S.DECLINED)
        self.assignment(review, carol, offered=at(D1, 8), decided=at(D2, 8), state=S.EXPIRED)
        self.assignment(share, dan, offered=at(D2, 9), accepted=at(D2, 9, 5), submitted=at(D2, 9, 10),
                        decided=at(D2, 11), state=S.APPROVED)
        self.a5 = self.assignment(case, alice, offered=at(D1, 10), accepted=at(D1, 11), submitted=at(D2, 12),
                                  decided=at(D2, 16), state=S.APPROVED)
        self.assignment(case, bob, offered=at(D1, 10) - timedelta(days=5), accepted=at(D1, 13), submitted=at(D1, 14),
                        decided=at(D2, 9), state=S.REJECTED)
        self.assignment(share, carol, offered=at(D2, 12))

        # Referrals: codeA (P2, alice), codeB (P1, bob).
        code_a = ReferralCode.objects.create(workspace=ws, program=self.p2, advocate=alice, code=f"A{ws.pk}BCDFGHJ")
        code_b = ReferralCode.objects.create(workspace=ws, program=self.p1, advocate=bob, code=f"B{ws.pk}BCDFGHJ")
        for code, when, flagged, attributed in ((code_a, at(D1, 9), False, True), (code_a, at(D1, 9, 1), False, True),
                                                (code_a, at(D1, 9, 2), True, True), (code_b, at(D1, 23, 45), False, True),
                                                (code_a, at(D2, 7), False, False)):
            Click.objects.create(workspace=ws, code=code, at=when, ip_hash="x" * 64, flagged=flagged, attributed=attributed)
        ref1 = Referral.objects.create(workspace=ws, code=code_a, program=self.p2, advocate=alice, referee_email="r1@x.example",
                                       state=ReferralState.CONVERTED, created_at=at(D1, 14))
        Referral.objects.create(workspace=ws, code=code_a, program=self.p2, advocate=alice, referee_email="r2@x.example",
                                state=ReferralState.REJECTED, created_at=at(D1, 15))
        ref3 = Referral.objects.create(workspace=ws, code=code_b, program=self.p1, advocate=bob, referee_email="r3@x.example",
                                       created_at=at(D2, 10))
        Conversion.objects.create(workspace=ws, referral=ref1, external_id="c1", referee_email="r1@x.example",
                                  value=Decimal("1000.00"), currency="USD", occurred_at=at(D2, 9))
        Conversion.objects.create(workspace=ws, referral=ref3, external_id="c2", referee_email="r3@x.example",
                                  value=Decimal("500.00"), currency="EUR", occurred_at=at(D2, 11))
        Conversion.objects.create(workspace=ws, referral=None, attributed=False, external_id="c3",
                                  referee_email="r9@x.example", value=Decimal("300.00"), currency="USD", occurred_at=at(D2, 12))

        # NPS.
        survey = Survey.objects.create(workspace=ws, name="Quarterly")
        sends = {who: SurveySend.objects.create(workspace=ws, survey=survey, advocate=who, channel=SurveyChannel.EMAIL,
                                                sent_at=when)
                 for who, when in ((alice, at(D1, 8)), (bob, at(D1, 8)), (carol, at(D2, 8)))}
        for who, score, cat, when, send in ((alice, 10, Category.PROMOTER, at(D1, 9), sends[alice]),
                                            (bob, 7, Category.PASSIVE, at(D2, 10), sends[bob]),
                                            (carol, 3, Category.DETRACTOR, at(D2, 9), sends[carol]),
                                            (dan, 9, Category.PROMOTER, at(D2, 20), None)):
            SurveyResponse.objects.create(workspace=ws, survey=survey, send=send, advocate=who, score=score, category=cat,
                                          channel=ResponseChannel.EMAIL if send else ResponseChannel.API,
                                          advocate_type=who.type, advocate_stage=who.stage, answered_at=when)

        # Ledger: 100 before day 1; day 1: +20 adjust (earned), -10 adjust, -20 donation; day 2: 50 + 60 (P1
        # asks), 300 (P2 ask), 500 (P2 referral), -80 redeemed, +80 refund.
        self.ledger(alice, EntryKind.EARN_BONUS, 100, at(D1, 9) - timedelta(days=5))
        self.ledger(bob, EntryKind.ADJUST, 20, at(D1, 12))
        self.ledger(bob, EntryKind.ADJUST, -10, at(D1, 13))
        self.ledger(alice, EntryKind.DONATE, -20, at(D1, 18))
        self.ledger(alice, EntryKind.EARN_ASK, 50, at(D2, 10), self.p1)
        self.ledger(dan, EntryKind.EARN_ASK, 60, at(D2, 11), self.p1)
        self.ledger(alice, EntryKind.EARN_ASK, 300, at(D2, 16), self.p2)
        self.ledger(alice, EntryKind.EARN_REFERRAL, 500, at(D2, 9), self.p2)
        debit = self.ledger(alice, EntryKind.REDEEM, -80, at(D2, 17))
        self.ledger(alice, EntryKind.REFUND, 80, at(D2, 18))
        item = CatalogItem.objects.create(workspace=ws, name="Mug", kind=ItemKind.SWAG, cost=80)
        Redemption.objects.create(workspace=ws, advocate=alice, item=item, points=80, debit_entry=debit, created_at=at(D2, 17))

        # Outcomes (deals count; a review outcome does not).
        for assignment, kind, amount, status, created, updated in (
            (self.a5, OutcomeKind.DEAL, "10000", DealStatus.OPEN, at(D1, 12), at(D1, 12)),
            (self.a1, OutcomeKind.DEAL, "5000", DealStatus.WON, at(D1, 10), at(D2, 14)),
            (self.a1, OutcomeKind.REVIEW, None, "", at(D2, 10), at(D2, 10)),
            (self.a5, OutcomeKind.DEAL, "2000", DealStatus.LOST, at(D2, 9), at(D2, 9)),
        ):
            Outcome.objects.create(workspace=ws, assignment=assignment, program=assignment.program,
                                   advocate=assignment.advocate, kind=kind, amount=Decimal(amount) if amount else None,
                                   deal_status=status, created_at=created, updated_at=updated,
                                   decided_at=updated if status in (DealStatus.WON, DealStatus.LOST) else None)

        # Costs.
        for program, amount, day in ((self.p1, "1200", D1), (self.p2, "300", D2), (self.p2, "50", D2), (self.p1, "100", D0)):
            ProgramCost.objects.create(workspace=ws, program=program, category=CostCategory.SOFTWARE,
                                       amount=Decimal(amount), incurred_on=day)


ZERO = {c: 0 for c in METRIC_COLUMNS} | {"proof_by_kind": {}}


def expected(w: World) -> dict:
    """Every row of the two days, by (program id or None, day): computed by hand."""
    p1, p2 = w.p1.pk, w.p2.pk
    return {
        (None, D1): ZERO | dict(
            active_advocates=5,  # alice, bob, dan (today) + erin (80 days ago) + frank (89 days ago); not gina (90)
            new_advocates=2,  # alice, dan (bob has history)
            offers=4, accepts=3, completions=0, declines=1, expiries=0,  # offers a1 a2 a3 a5; accepts a1 a5 a6
            referral_clicks=3, referral_leads=2,  # codeA 2 (one flagged left out), codeB 1 (23:45)
            nps_promoters=1, surveys_sent=2,
            points_earned=20, points_redeemed=20, points_outstanding=90,  # 100 + 20 - 10 - 20
            pipeline_influenced=Decimal("15000"), program_costs=Decimal("1200"),
            events=3,  # alice 09:00 and 23:30, dan 00:15 (not carol's day-0 23:50)
        ),
        (None, D2): ZERO | dict(
            active_advocates=6,  # alice, bob, carol, dan, hank, erin (frank dropped out of the window)
            new_advocates=2,  # carol, hank
            offers=2, accepts=1, completions=3, declines=0, expiries=1,
            proof_by_kind={"review": 1, "social_share": 1, "case_study": 1},
            referral_clicks=1, referral_leads=1, referral_conversions=2, referral_revenue=Decimal("1000"),  # EUR: no revenue
            nps_promoters=1, nps_passives=1, nps_detractors=1, surveys_sent=1,
            points_earned=910, points_redeemed=80, points_outstanding=1000,  # 90 + 50+60+300+500 - 80 + 80
            pipeline_influenced=Decimal("2000"), revenue_won=Decimal("5000"), program_costs=Decimal("350"),
            events=2,
        ),
        # Program rows' active advocates: activity in the program (not events, NPS or redemptions).
        (p1, D1): ZERO | dict(active_advocates=1, offers=3, accepts=1, declines=1, referral_clicks=1,
                              pipeline_influenced=Decimal("5000"), program_costs=Decimal("1200")),
        (p1, D2): ZERO | dict(active_advocates=3, offers=2, accepts=1, completions=2, expiries=1, proof_by_kind={"review": 1, "social_share": 1},
                              referral_leads=1, referral_conversions=1, points_earned=110, revenue_won=Decimal("5000")),
        (p2, D1): ZERO | dict(active_advocates=2, offers=1, accepts=2, referral_clicks=2, referral_leads=2, pipeline_influenced=Decimal("10000")),
        (p2, D2): ZERO | dict(active_advocates=2, completions=1, proof_by_kind={"case_study": 1}, referral_clicks=1, referral_conversions=1,
                              referral_revenue=Decimal("1000"), points_earned=800, pipeline_influenced=Decimal("2000"),
                              program_costs=Decimal("350")),
    }


def expected_people(w: World) -> dict:
    """(advocate, day) → (actions, completions, conversions, points_earned)."""
    return {
        # events 2, a1 accepted + submitted, a5 accepted, leads ref1 + ref2, NPS answer
        (w.alice.pk, D1): (8, 0, 0, 0),
        # a1 approved, a5 submitted + approved, the redemption; conversion c1; 50 + 300 + 500 points
        (w.alice.pk, D2): (4, 2, 1, 850),
        (w.bob.pk, D1): (2, 0, 0, 20),  # a6 accepted and submitted (its rejection on day 2 is no action); +20 adjust
        (w.bob.pk, D2): (3, 0, 1, 0),  # community post, lead ref3, NPS answer; conversion c2
        (w.carol.pk, D2): (1, 0, 0, 0),  # NPS answer
        (w.dan.pk, D1): (1, 0, 0, 0),  # email click at 00:15
        (w.dan.pk, D2): (4, 1, 0, 60),  # a4 accepted, submitted, approved; API NPS answer
        (w.hank.pk, D2): (1, 0, 0, 0),
    }


def metric_rows(ws) -> dict:
    with workspace_scope(ws):
        return {(m.program_id, m.day): {c: getattr(m, c) for c in METRIC_COLUMNS}
                for m in DailyMetric.objects.filter(workspace=ws, day__gte=D1, day__lte=D2)}


def people_rows(ws) -> dict:
    with workspace_scope(ws):
        return {(a.advocate_id, a.day): (a.actions, a.completions, a.conversions, a.points_earned)
                for a in AdvocateDay.objects.filter(workspace=ws, day__gte=D1, day__lte=D2)}


@pytest.fixture
def world(tenant_a) -> World:
    return World(tenant_a.workspace)


def _rollup(ws):
    with workspace_scope(ws):
        return rollup_days(workspace=ws, start=D1, end=D2)


def test_every_metric_of_the_scenario_matches_the_hand_computed_value(world):
    assert _rollup(world.ws) == 2
    rows = metric_rows(world.ws)
    want = expected(world)
    assert set(rows) == set(want)
    for key, values in want.items():
        for column in METRIC_COLUMNS:
            assert rows[key][column] == values[column], (key, column, rows[key][column], values[column])


def test_every_advocate_day_matches_the_hand_computed_value(world):
    _rollup(world.ws)
    assert people_rows(world.ws) == expected_people(world)


def test_rerunning_the_days_leaves_identical_rows(world):
    _rollup(world.ws)
    first, first_people = metric_rows(world.ws), people_rows(world.ws)
    _rollup(world.ws)
    _rollup(world.ws)
    assert metric_rows(world.ws) == first
    assert people_rows(world.ws) == first_people


def test_a_late_event_for_an_old_day_is_picked_up_by_a_backfill(world):
    _rollup(world.ws)
    with workspace_scope(world.ws):
        ActivityEvent.objects.create(workspace=world.ws, advocate=world.carol, kind=EventKind.RENEWAL, occurred_at=at(D1, 16))
    assert metric_rows(world.ws)[(None, D1)]["events"] == 3  # not yet
    call_command("rollup_metrics", "--workspace", world.ws.slug, "--from", str(D1), "--to", str(D2))
    rows = metric_rows(world.ws)
    assert rows[(None, D1)]["events"] == 4
    assert rows[(None, D1)]["active_advocates"] == 6 and rows[(None, D1)]["new_advocates"] == 3  # carol now
    assert rows[(None, D2)]["new_advocates"] == 1  # carol is no longer new on day 2
    assert people_rows(world.ws)[(world.carol.pk, D1)] == (1, 0, 0, 0)


def test_a_day_whose_sources_were_deleted_ends_at_zeros_and_no_program_rows(world):
    _rollup(world.ws)
    with workspace_scope(world.ws):
        ActivityEvent.objects.filter(workspace=world.ws).delete()
        Assignment.objects.filter(workspace=world.ws).update(offered_at=at(D0, 1), accepted_at=None, submitted_at=None,
                                                             decided_at=None)
        Click.objects.filter(workspace=world.ws).delete()
        Outcome.objects.filter(workspace=world.ws).delete()
        ProgramCost.objects.filter(workspace=world.ws).delete()
        Conversion.objects.filter(workspace=world.ws).delete()
        Referral.objects.filter(workspace=world.ws).update(created_at=at(D0, 1) - timedelta(days=100))
        SurveyResponse.objects.filter(workspace=world.ws).delete()
        SurveySend.objects.filter(workspace=world.ws).delete()
        Redemption.objects.filter(workspace=world.ws).delete()
    # The ledger is append-only: its entries stay (points stay as computed).
    _rollup(world.ws)
    rows = metric_rows(world.ws)
    assert {key for key in rows} == {(None, D1), (None, D2), (world.p1.pk, D2), (world.p2.pk, D2)}
    assert rows[(None, D1)] == ZERO | dict(active_advocates=3, new_advocates=0, points_earned=20, points_redeemed=20,
                                           points_outstanding=90)  # bob (his +20), erin, frank
    assert rows[(world.p1.pk, D2)] == ZERO | dict(points_earned=110, active_advocates=2)  # alice, dan (their points)
    assert rows[(world.p2.pk, D2)] == ZERO | dict(points_earned=800, active_advocates=1)


def test_rolling_up_one_workspace_leaves_the_other_untouched(world, tenant_b):
    other = tenant_b.workspace
    with workspace_scope(other):
        stranger = AdvocateFactory(workspace=other)
        ActivityEvent.objects.create(workspace=other, advocate=stranger, kind=EventKind.EMAIL_OPEN, occurred_at=at(D1, 12))
        DailyMetric.objects.create(workspace=other, day=D1, events=42, offers=7)
        AdvocateDay.objects.create(workspace=other, advocate=stranger, day=D1, actions=9)
    _rollup(world.ws)
    assert metric_rows(world.ws)[(None, D1)]["events"] == 3
    with workspace_scope(other):
        assert list(DailyMetric.objects.values_list("day", "events", "offers")) == [(D1, 42, 7)]
        assert list(AdvocateDay.objects.values_list("day", "actions")) == [(D1, 9)]


def test_an_event_at_half_past_eleven_local_lands_on_the_local_day(tenant_a):
    ws = tenant_a.workspace
    ws.timezone = "Pacific/Auckland"  # UTC+13 in February: 23:30 local is 10:30 UTC the same day
    ws.save(update_fields=["timezone"])
    zone = ZoneInfo("Pacific/Auckland")
    with workspace_scope(ws):
        ActivityEvent.objects.create(workspace=ws, advocate=tenant_a.advocate, kind=EventKind.EMAIL_OPEN,
                                     occurred_at=datetime.combine(D1, time(23, 30), tzinfo=zone))
        # 00:30 local on day 2 is 11:30 UTC on day 1: day 2 here.
        ActivityEvent.objects.create(workspace=ws, advocate=tenant_a.advocate, kind=EventKind.EMAIL_OPEN,
                                     occurred_at=datetime.combine(D2, time(0, 30), tzinfo=zone))
        rollup_days(workspace=ws, start=D1, end=D2)
        assert dict(DailyMetric.objects.filter(program=None).values_list("day", "events")) == {D1: 1, D2: 1}
