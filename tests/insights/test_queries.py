"""insights/queries.py: every KPI computed by hand from rollup rows made here, with the edges
of retention, ROI and the reference win rate (PRODUCT.md "Metrics, rollups and ROI")."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from advocacy.scoping import workspace_scope
from insights import queries
from insights.periods import Period
from programs.models import AskKind, DealStatus, Outcome, OutcomeKind
from tests.factories import (
    AdvocateDayFactory,
    AdvocateFactory,
    AskFactory,
    AssignmentFactory,
    DailyMetricFactory,
    ProgramCostFactory,
    ProgramFactory,
)

pytestmark = pytest.mark.django_db

START, END = date(2026, 3, 1), date(2026, 3, 31)
PERIOD = Period(START, END)


@pytest.fixture
def ws(tenant_a):
    return tenant_a.workspace


def test_totals_sum_the_flows_and_take_the_levels_of_the_last_day(ws):
    DailyMetricFactory(workspace=ws, day=START, active_advocates=10, points_outstanding=500, offers=3, completions=1,
                       referral_revenue=Decimal("100.50"), nps_promoters=2, nps_detractors=1, proof_by_kind={"review": 1})
    DailyMetricFactory(workspace=ws, day=END, active_advocates=12, points_outstanding=450, offers=2, completions=2,
                       referral_revenue=Decimal("20.25"), nps_passives=1, proof_by_kind={"review": 2, "case_study": 1})
    DailyMetricFactory(workspace=ws, day=END + timedelta(days=1), active_advocates=99, offers=50)  # outside
    DailyMetricFactory(workspace=ws, day=START - timedelta(days=1), offers=50)  # outside
    program = ProgramFactory(workspace=ws)
    DailyMetricFactory(workspace=ws, program=program, day=START, offers=3)  # a program row: not in the workspace's total

    with workspace_scope(ws):
        totals = queries.Metrics(ws, PERIOD).totals()

    assert totals["offers"] == 5
    assert totals["completions"] == 3
    assert totals["referral_revenue"] == Decimal("120.75")
    assert totals["active_advocates"] == 12
    assert totals["points_outstanding"] == 450
    assert totals["proof_by_kind"] == {"case_study": 1, "review": 3}
    # 2 promoters, 1 passive, 1 detractor: 100 * (2 - 1) / 4 = 25.0
    assert totals["nps"] == Decimal("25.0")


def test_a_program_reads_its_own_rows_and_costs_only(ws):
    program, other = ProgramFactory(workspace=ws), ProgramFactory(workspace=ws)
    DailyMetricFactory(workspace=ws, day=START, offers=9, revenue_won=Decimal("900"))
    DailyMetricFactory(workspace=ws, program=program, day=START, offers=4, revenue_won=Decimal("300"))
    DailyMetricFactory(workspace=ws, program=other, day=START, offers=5, revenue_won=Decimal("600"))
    ProgramCostFactory(program=program, amount=Decimal("100"), incurred_on=START)
    ProgramCostFactory(program=other, amount=Decimal("50"), incurred_on=START)

    with workspace_scope(ws):
        mine = queries.Metrics(ws, PERIOD, program).totals()
        every = queries.Metrics(ws, PERIOD).totals()

    assert (mine["offers"], mine["revenue_won"], mine["program_costs"]) == (4, Decimal("300"), Decimal("100"))
    assert (every["offers"], every["revenue_won"], every["program_costs"]) == (9, Decimal("900"), Decimal("150"))


def test_roi_is_revenue_minus_costs_over_costs(ws):
    program = ProgramFactory(workspace=ws)
    DailyMetricFactory(workspace=ws, day=START, referral_revenue=Decimal("300"), revenue_won=Decimal("1200"))
    ProgramCostFactory(program=program, amount=Decimal("400"), incurred_on=START)
    ProgramCostFactory(program=program, amount=Decimal("100"), incurred_on=END)
    ProgramCostFactory(program=program, amount=Decimal("999"), incurred_on=END + timedelta(days=1))  # outside

    with workspace_scope(ws):
        kpis = queries.kpis(ws, PERIOD)

    # (300 + 1200 - 500) / 500 = 2
    assert kpis["program_costs"] == Decimal("500")
    assert kpis["roi"] == Decimal("2.00")
    assert kpis["roi_percent"] == Decimal("200.0")


def test_roi_is_null_without_costs_and_with_costs_of_zero(ws):
    DailyMetricFactory(workspace=ws, day=START, referral_revenue=Decimal("300"))
    with workspace_scope(ws):
        assert queries.kpis(ws, PERIOD)["roi"] is None
        ProgramCostFactory(program=ProgramFactory(workspace=ws), amount=Decimal("0"), incurred_on=START)
        kpis = queries.kpis(ws, PERIOD)
    assert kpis["roi"] is None and kpis["roi_percent"] is None


def test_roi_can_be_negative(ws):
    ProgramCostFactory(program=ProgramFactory(workspace=ws), amount=Decimal("300"), incurred_on=START)
    DailyMetricFactory(workspace=ws, day=START, revenue_won=Decimal("100"))
    with workspace_scope(ws):
        kpis = queries.kpis(ws, PERIOD)
    # (0 + 100 - 300) / 300 = -0.666…
    assert kpis["roi"] == Decimal("-0.67")
    assert kpis["roi_percent"] == Decimal("-66.7")


def test_retention_is_the_share_of_those_active_before_the_start_still_active_at_the_end(ws):
    period = Period(date(2026, 1, 1), date(2026, 6, 30))  # longer than 90 days: the two windows do not overlap
    start, end = period.start, period.end
    kept, lost, late, new = (AdvocateFactory(workspace=ws) for _ in range(4))
    AdvocateDayFactory(advocate=kept, day=start - timedelta(days=90))  # first day of the window before the start
    AdvocateDayFactory(advocate=kept, day=end - timedelta(days=89))  # first day of the window up to the end
    AdvocateDayFactory(advocate=lost, day=start - timedelta(days=1))
    AdvocateDayFactory(advocate=lost, day=end - timedelta(days=90))  # one day too early to count at the end
    AdvocateDayFactory(advocate=late, day=start - timedelta(days=91))  # too early to count at the start
    AdvocateDayFactory(advocate=late, day=end)
    AdvocateDayFactory(advocate=new, day=start)  # active in the period only: not in the cohort

    with workspace_scope(ws):
        result = queries.retention(ws, period)

    assert result == {"at_start": 2, "retained": 1, "percent": Decimal("50.0")}


def test_retention_counts_whoever_is_still_inside_the_rolling_90_days_at_a_short_periods_end(ws):
    """Active = activity in the 90 days up to a day: after a 31-day period, someone active the
    day before it began is still active at its end."""
    AdvocateDayFactory(advocate=AdvocateFactory(workspace=ws), day=START - timedelta(days=1))
    with workspace_scope(ws):
        assert queries.retention(ws, PERIOD)["percent"] == Decimal("100.0")


def test_retention_is_null_when_nobody_was_active_before_the_start(ws):
    AdvocateDayFactory(advocate=AdvocateFactory(workspace=ws), day=START)
    with workspace_scope(ws):
        kpis = queries.kpis(ws, PERIOD)
    assert kpis["retention"] is None
    assert kpis["retention_at_start"] == 0


def test_retention_of_a_cohort_all_gone_is_zero_not_null(ws):
    AdvocateDayFactory(advocate=AdvocateFactory(workspace=ws), day=START - timedelta(days=10))
    with workspace_scope(ws):
        assert queries.retention(ws, Period(START, START + timedelta(days=200)))["percent"] == Decimal("0.0")


def _deal(ws, kind: str, status: str, when: datetime, program=None):
    program = program or ProgramFactory(workspace=ws)
    assignment = AssignmentFactory(ask=AskFactory(program=program, kind=kind), state="approved")
    return Outcome.objects.with_scopes_disabled().create(
        workspace=ws, assignment=assignment, program=program, advocate=assignment.advocate, kind=OutcomeKind.DEAL,
        amount=Decimal("1000"), deal_status=status, created_at=when, updated_at=when,
        decided_at=when if status in ("won", "lost") else None,
    )


def test_reference_win_rate_compares_reference_call_deals_with_the_others(ws):
    inside = datetime(2026, 3, 10, 12, tzinfo=ZoneInfo("UTC"))
    _deal(ws, AskKind.REFERENCE_CALL, DealStatus.WON, inside)
    _deal(ws, AskKind.REFERENCE_CALL, DealStatus.WON, inside)
    _deal(ws, AskKind.REFERENCE_CALL, DealStatus.LOST, inside)
    _deal(ws, AskKind.CASE_STUDY, DealStatus.WON, inside)
    _deal(ws, AskKind.CASE_STUDY, DealStatus.LOST, inside)
    _deal(ws, AskKind.CASE_STUDY, DealStatus.LOST, inside)
    _deal(ws, AskKind.CASE_STUDY, DealStatus.LOST, inside)
    _deal(ws, AskKind.REFERENCE_CALL, DealStatus.OPEN, inside)  # undecided: not counted
    _deal(ws, AskKind.REFERENCE_CALL, DealStatus.LOST, datetime(2026, 4, 1, 0, 30, tzinfo=ZoneInfo("UTC")))  # after

    with workspace_scope(ws):
        rate = queries.reference_win_rate(ws, PERIOD)

    assert rate["with_reference"] == {"won": 2, "lost": 1, "percent": Decimal("66.7")}
    assert rate["without_reference"] == {"won": 1, "lost": 3, "percent": Decimal("25.0")}


def test_reference_win_rate_is_null_for_a_side_without_decided_deals(ws):
    _deal(ws, AskKind.REFERENCE_CALL, DealStatus.WON, datetime(2026, 3, 5, tzinfo=ZoneInfo("UTC")))
    with workspace_scope(ws):
        rate = queries.reference_win_rate(ws, PERIOD)
    assert rate["with_reference"]["percent"] == Decimal("100.0")
    assert rate["without_reference"] == {"won": 0, "lost": 0, "percent": None}


def test_reference_deals_are_counted_on_the_workspaces_local_day(ws):
    ws.timezone = "America/New_York"
    ws.save()
    # 1 April 02:00 UTC is 31 March 22:00 in New York: inside March.
    _deal(ws, AskKind.REFERENCE_CALL, DealStatus.WON, datetime(2026, 4, 1, 2, tzinfo=ZoneInfo("UTC")))
    with workspace_scope(ws):
        assert queries.reference_win_rate(ws, PERIOD)["with_reference"]["won"] == 1


def test_nps_kpi_is_null_without_answers(ws):
    DailyMetricFactory(workspace=ws, day=START, offers=1)
    with workspace_scope(ws):
        kpis = queries.kpis(ws, PERIOD)
    assert kpis["nps"] is None and kpis["nps_responses"] == 0


def test_active_advocates_kpi_is_the_last_rolled_up_day_of_the_period(ws):
    DailyMetricFactory(workspace=ws, day=START, active_advocates=5)
    DailyMetricFactory(workspace=ws, day=START + timedelta(days=3), active_advocates=7)
    with workspace_scope(ws):
        assert queries.kpis(ws, PERIOD)["active_advocates"] == 7
        assert queries.kpis(ws, Period(date(2020, 1, 1), date(2020, 1, 2)))["active_advocates"] == 0


def test_series_by_week_sums_each_week_and_clips_the_edges(ws):
    # March 2026: the 1st is a Sunday, so the first week bucket is the 1st alone.
    DailyMetricFactory(workspace=ws, day=date(2026, 3, 1), offers=1, active_advocates=3)
    DailyMetricFactory(workspace=ws, day=date(2026, 3, 2), offers=2, active_advocates=4)
    DailyMetricFactory(workspace=ws, day=date(2026, 3, 8), offers=3, active_advocates=5)
    ProgramCostFactory(program=ProgramFactory(workspace=ws), amount=Decimal("10"), incurred_on=date(2026, 3, 4))

    with workspace_scope(ws):
        weeks = queries.series(ws, PERIOD, "week")

    assert [w["period_start"] for w in weeks] == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16),
                                                  date(2026, 3, 23), date(2026, 3, 30)]
    assert [w["offers"] for w in weeks] == [1, 5, 0, 0, 0, 0]
    assert [w["active_advocates"] for w in weeks] == [3, 5, None, None, None, None]
    assert weeks[1]["program_costs"] == Decimal("10")


def test_series_by_day_has_every_day_and_by_month_every_month(ws):
    DailyMetricFactory(workspace=ws, day=date(2026, 2, 27), offers=1, nps_promoters=1)
    DailyMetricFactory(workspace=ws, day=date(2026, 3, 2), offers=2, nps_detractors=1)
    period = Period(date(2026, 2, 20), date(2026, 3, 5))
    with workspace_scope(ws):
        days = queries.series(ws, period, "day")
        months = queries.series(ws, period, "month")
    assert len(days) == 14
    assert [(m["period_start"], m["offers"], m["nps"]) for m in months] == [
        (date(2026, 2, 20), 1, Decimal("100.0")), (date(2026, 3, 1), 2, Decimal("-100.0"))]


def test_funnel_gives_each_steps_share_of_the_step_before():
    steps = queries.funnel({"referral_clicks": 200, "referral_leads": 20, "referral_conversions": 3})
    assert steps == [
        {"label": "Clicks", "count": 200, "of_previous": None},
        {"label": "Leads", "count": 20, "of_previous": Decimal("10.0")},
        {"label": "Conversions", "count": 3, "of_previous": Decimal("15.0")},
    ]
    assert queries.funnel({"referral_clicks": 0, "referral_leads": 0, "referral_conversions": 0})[1]["of_previous"] is None


def test_top_advocates_rank_by_points_then_completions(ws):
    a, b, c = (AdvocateFactory(workspace=ws, name=n) for n in ("Ann", "Bob", "Cy"))
    AdvocateDayFactory(advocate=a, day=START, points_earned=100, completions=1)
    AdvocateDayFactory(advocate=a, day=END, points_earned=50, conversions=1)
    AdvocateDayFactory(advocate=b, day=START, points_earned=150, completions=2)
    AdvocateDayFactory(advocate=c, day=END + timedelta(days=1), points_earned=1000)  # outside

    with workspace_scope(ws):
        top = queries.top_advocates(ws, PERIOD)

    assert [(t["advocate__name"], t["points"], t["completions"], t["conversions"]) for t in top] == [
        ("Bob", 150, 2, 0), ("Ann", 150, 1, 1)]


def test_objectives_compare_targets_with_the_programs_rollups_to_date_and_in_the_period(ws):
    program = ProgramFactory(workspace=ws, objectives={"reviews": 10, "pipeline": 1000, "active_advocates": 4, "referrals": 5})
    DailyMetricFactory(workspace=ws, program=program, day=START - timedelta(days=40), proof_by_kind={"review": 4},
                       pipeline_influenced=Decimal("250"), referral_leads=1, active_advocates=2)
    # a program's level is read from its row on the period's last day
    DailyMetricFactory(workspace=ws, program=program, day=END, proof_by_kind={"review": 1, "testimonial": 2},
                       pipeline_influenced=Decimal("500"), active_advocates=3)
    DailyMetricFactory(workspace=ws, program=program, day=END + timedelta(days=1), proof_by_kind={"review": 50},
                       active_advocates=40)  # after the period's end: not yet

    with workspace_scope(ws):
        [row] = queries.program_table(ws, PERIOD)

    by_key = {o["key"]: o for o in row["objectives"]}
    assert (by_key["reviews"]["to_date"], by_key["reviews"]["in_period"], by_key["reviews"]["percent"]) == (5, 1, Decimal("50.0"))
    assert (by_key["pipeline"]["to_date"], by_key["pipeline"]["in_period"]) == (Decimal("750"), Decimal("500"))
    assert by_key["pipeline"]["percent"] == Decimal("75.0")
    assert (by_key["active_advocates"]["to_date"], by_key["active_advocates"]["percent"]) == (3, Decimal("75.0"))
    assert (by_key["referrals"]["to_date"], by_key["referrals"]["in_period"]) == (1, 0)


def test_objectives_bar_is_capped_at_100_and_a_program_without_rows_shows_zeros(ws):
    done = ProgramFactory(workspace=ws, name="A", objectives={"completions": 2})
    idle = ProgramFactory(workspace=ws, name="B", objectives={"completions": 2})
    DailyMetricFactory(workspace=ws, program=done, day=START, completions=5)
    with workspace_scope(ws):
        rows = {r["program"].pk: r for r in queries.program_table(ws, PERIOD)}
    assert rows[done.pk]["objectives"][0]["percent"] == Decimal("250.0")
    assert rows[done.pk]["objectives"][0]["bar"] == Decimal("100")
    assert rows[idle.pk]["objectives"][0]["to_date"] == 0
    assert rows[idle.pk]["period"]["completions"] == 0
