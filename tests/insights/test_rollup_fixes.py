"""Regressions from the insights review: each test names the rule it pins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from advocacy.models import ActivityEvent, EventKind
from advocacy.scoping import scopes_disabled, workspace_scope
from insights import queries, tasks
from insights.costs import create_cost
from insights.dirty import clear_dirty, dirty_days, mark_dirty
from insights.models import CostCategory, DailyMetric, ProgramCost, RollupDirtyDay
from insights.periods import Period
from insights.rollups import rollup_days
from programs.models import DealStatus, Outcome, OutcomeKind
from programs.services import record_outcome, update_outcome
from referrals.models import Conversion
from tests.api.helpers import post_json
from tests.factories import AskFactory, AssignmentFactory, ProgramFactory
from tests.insights.test_rollup_scenario import D1, D2, World, at, metric_rows

pytestmark = pytest.mark.django_db
D3 = D2 + timedelta(days=1)


@pytest.fixture
def world(tenant_a) -> World:
    return World(tenant_a.workspace)


def _revenue_won(ws, start, end) -> Decimal:
    with workspace_scope(ws):
        return sum((m.revenue_won for m in DailyMetric.objects.filter(workspace=ws, program=None, day__gte=start,
                                                                       day__lte=end)), Decimal(0))


def test_revenue_won_counts_a_won_deal_once_on_the_day_it_was_won_even_when_edited_later(world, tenant_a):
    ws = world.ws
    with workspace_scope(ws):
        won = Outcome.objects.get(workspace=ws, kind=OutcomeKind.DEAL, deal_status=DealStatus.WON)
    with time_machine.travel(at(D3, 10), tick=False), workspace_scope(ws):
        rollup_days(workspace=ws, start=D1, end=D2)
        update_outcome(outcome=won, actor=tenant_a.manager, data={"deal_name": "Acme", "note": "typo fixed"})
        rollup_days(workspace=ws, start=D3, end=D3)
        won.refresh_from_db()
    assert won.decided_at == at(D2, 14)  # unchanged by the edit; updated_at moved
    assert won.updated_at == at(D3, 10)
    assert _revenue_won(ws, D1, D3) == Decimal("5000")
    assert metric_rows(ws)[(None, D2)]["revenue_won"] == Decimal("5000")


def test_a_deal_reopened_and_won_again_moves_its_revenue_to_the_new_day(world, tenant_a):
    ws = world.ws
    with workspace_scope(ws):
        won = Outcome.objects.get(workspace=ws, kind=OutcomeKind.DEAL, deal_status=DealStatus.WON)
    with time_machine.travel(at(D3, 9), tick=False), workspace_scope(ws):
        update_outcome(outcome=won, actor=tenant_a.manager, data={"deal_name": "Acme", "deal_status": DealStatus.OPEN})
        assert Outcome.objects.get(pk=won.pk).decided_at is None
    with time_machine.travel(at(D3, 11), tick=False), workspace_scope(ws):
        update_outcome(outcome=won, actor=tenant_a.manager, data={"deal_status": DealStatus.WON})
        rollup_days(workspace=ws, start=D1, end=D3)
        assert Outcome.objects.get(pk=won.pk).decided_at == at(D3, 11)
    assert _revenue_won(ws, D1, D2) == 0
    assert _revenue_won(ws, D3, D3) == Decimal("5000")


def test_a_backfill_refreshes_new_advocates_of_the_following_days(world):
    ws = world.ws
    with time_machine.travel(at(D3, 10), tick=False):
        with workspace_scope(ws):
            rollup_days(workspace=ws, start=D1, end=D2)
            before = metric_rows(ws)[(None, D2)]
            # carol, new on day 2, turns out to have been active on day 1 already
            ActivityEvent.objects.create(workspace=ws, advocate=world.carol, kind=EventKind.RENEWAL,
                                         occurred_at=at(D1, 16))
        call_command("rollup_metrics", "--workspace", ws.slug, "--from", str(D1), "--to", str(D1))
    rows = metric_rows(ws)
    assert rows[(None, D2)]["new_advocates"] == before["new_advocates"] - 1
    assert rows[(None, D2)]["active_advocates"] == before["active_advocates"]
    assert rows[(None, D2)]["events"] == before["events"]  # only the levels were recomputed


# --- late data: dirty days -------------------------------------------------------------------

LATE_NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)


def _workspace_events(ws) -> dict:
    with workspace_scope(ws):
        return dict(DailyMetric.objects.filter(workspace=ws, program=None).values_list("day", "events"))


def test_a_back_dated_event_posted_through_the_api_is_rolled_up_by_the_next_hourly_run(
        tenant_a, api_a, django_capture_on_commit_callbacks):
    ws = tenant_a.workspace
    old_day = date(2026, 3, 1)
    with time_machine.travel(LATE_NOW, tick=False):
        tasks.rollup_workspace(workspace_id=ws.pk, days_ago=0, catch_up=True)
        rollup_days(workspace=ws, start=old_day, end=old_day)  # the old day was rolled up already
        assert _workspace_events(ws).get(old_day) == 0
        with django_capture_on_commit_callbacks(execute=True):
            response = post_json(api_a, "/api/v1/events/", {"advocate": {"email": tenant_a.advocate.email},
                                                             "kind": "purchase", "occurred_at": "2026-03-01T12:00:00Z"})
        assert response.status_code == 201, response.content
        with scopes_disabled():
            assert list(RollupDirtyDay.objects.filter(workspace=ws).values_list("day", flat=True)) == [old_day]
        tasks.rollup_today()
    assert _workspace_events(ws)[old_day] == 1
    with scopes_disabled():
        assert not RollupDirtyDay.objects.filter(workspace=ws).exists()  # the mark it computed is gone


def test_marks_for_today_are_not_needed_and_a_mark_made_during_a_run_stays(tenant_a):
    ws = tenant_a.workspace
    with time_machine.travel(LATE_NOW, tick=False):
        assert mark_dirty(workspace=ws, days=[LATE_NOW.date(), LATE_NOW.date() + timedelta(days=3)]) == 0
        assert mark_dirty(workspace=ws, days=[date(2026, 3, 1)]) == 1
        marks = dirty_days(ws)
    with time_machine.travel(LATE_NOW + timedelta(seconds=5), tick=False):
        mark_dirty(workspace=ws, days=[date(2026, 3, 1)])  # marked again while the run computed it
    assert clear_dirty(ws, marks) == 0
    assert list(dirty_days(ws)) == [date(2026, 3, 1)]


def test_late_costs_and_deals_mark_their_past_days_created_and_decided(tenant_a, django_capture_on_commit_callbacks):
    ws = tenant_a.workspace
    program = ProgramFactory(workspace=ws)
    with time_machine.travel(LATE_NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        create_cost(workspace=ws, actor=tenant_a.manager, program=program, category=CostCategory.SOFTWARE,
                    amount="10", incurred_on=date(2026, 2, 1))
        a = AssignmentFactory(ask=AskFactory(program=program), state="approved")
        with workspace_scope(ws):
            outcome = record_outcome(assignment=a, actor=tenant_a.manager,
                                     data={"kind": "deal", "deal_name": "Acme", "amount": "100", "deal_status": "open"})
        Outcome.objects.with_scopes_disabled().filter(pk=outcome.pk).update(created_at=datetime(2026, 2, 5, 12, tzinfo=UTC))
        outcome.refresh_from_db()
        with workspace_scope(ws):
            update_outcome(outcome=outcome, actor=tenant_a.manager, data={"deal_status": "won"})
    assert sorted(dirty_days(ws)) == [date(2026, 2, 1), date(2026, 2, 5)]  # the decision today needs no mark


# --- levels of a quiet program ---------------------------------------------------------------


def test_a_quiet_program_shows_no_active_advocates_once_its_window_has_passed(tenant_a):
    ws = tenant_a.workspace
    start = date(2026, 1, 1)
    program = ProgramFactory(workspace=ws, objectives={"active_advocates": 10})
    AssignmentFactory(ask=AskFactory(program=program), state="accepted",
                      accepted_at=datetime(2026, 1, 1, 12, tzinfo=UTC), offered_at=datetime(2026, 1, 1, 11, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 5, 1, 12, tzinfo=UTC), tick=False):
        rollup_days(workspace=ws, start=start, end=start + timedelta(days=120))
    with workspace_scope(ws):
        late = Period(start + timedelta(days=100), start + timedelta(days=120))
        assert queries.Metrics(ws, late).totals()["active_advocates"] == 0
        assert queries.Metrics(ws, Period(start + timedelta(days=60), start + timedelta(days=120)), program).totals()[
            "active_advocates"] == 0
        assert queries.program_table(ws, late, [program])[0]["active_advocates"] == 0
        # while the window lasts, the program's level is its row on the period's last day
        early = Period(start, start + timedelta(days=30))
        assert queries.Metrics(ws, early, program).totals()["active_advocates"] == 1
        assert queries.program_table(ws, early, [program])[0]["active_advocates"] == 1
        weekly = queries.Metrics(ws, Period(start + timedelta(days=85), start + timedelta(days=95)), program).series("day")
        assert [b["active_advocates"] for b in weekly] == [1] * 5 + [0] * 6


# --- money over the API is idempotent ---------------------------------------------------------


def test_a_program_cost_post_replayed_with_its_idempotency_key_records_one_cost(tenant_a, api_a):
    ws = tenant_a.workspace
    program = ProgramFactory(workspace=ws)
    body = {"program": program.pk, "category": "content", "amount": "99.90", "incurred_on": "2026-01-05"}
    first = post_json(api_a, "/api/v1/program-costs/", body, HTTP_IDEMPOTENCY_KEY="cost-1")
    again = post_json(api_a, "/api/v1/program-costs/", body, HTTP_IDEMPOTENCY_KEY="cost-1")
    assert first.status_code == 201, first.content
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (201, first.json(), "true")
    other = post_json(api_a, "/api/v1/program-costs/", {**body, "amount": "5"}, HTTP_IDEMPOTENCY_KEY="cost-1")
    assert other.status_code == 409
    with scopes_disabled():
        assert ProgramCost.objects.filter(workspace=ws).count() == 1


# --- rollup_metrics refuses dates outside 2000-2100 ------------------------------------------------


@pytest.mark.parametrize("args", [["--from", "9999-12-31"], ["--to", "0001-01-01"], ["--from", "1999-12-31"],
                                  ["--from", "2101-01-01", "--to", "2101-01-02"], ["--to", "9999-12-31"]])
def test_rollup_metrics_refuses_days_outside_2000_to_2100_with_a_clear_error(tenant_a, args):
    with pytest.raises(CommandError, match="between 2000-01-01 and 2100-12-31"):
        call_command("rollup_metrics", "--workspace", tenant_a.workspace.slug, *args)


def test_rollup_metrics_accepts_the_bounds_themselves(tenant_a):
    for day in ("2000-01-01", "2100-12-31"):
        call_command("rollup_metrics", "--workspace", tenant_a.workspace.slug, "--from", day)
    with workspace_scope(tenant_a.workspace):
        days = set(DailyMetric.objects.filter(workspace=tenant_a.workspace, program=None).values_list("day", flat=True))
    assert {date(2000, 1, 1), date(2100, 12, 31)} <= days


# --- revenue in other currencies is said to be left out ----------------------------------------


def test_the_revenue_and_roi_tiles_say_when_conversions_in_other_currencies_were_left_out(world, client, tenant_a):
    ws = world.ws
    with workspace_scope(ws):
        rollup_days(workspace=ws, start=D1, end=D2)
        k = queries.kpis(ws, Period(D1, D2))
        assert (k["referral_revenue"], k["other_currency_conversions"]) == (Decimal("1000.00"), 1)  # the EUR one
        assert queries.kpis(ws, Period(D1, D1))["other_currency_conversions"] == 0
        eur = Conversion.objects.get(workspace=ws, currency="EUR")
        assert queries.kpis(ws, Period(D1, D2), eur.referral.program)["other_currency_conversions"] == 1
    client.force_login(tenant_a.manager)
    page = client.get(f"/w/{ws.slug}/insights/", {"period": "custom", "from": str(D1), "to": str(D2)}).content.decode()
    assert "1 conversion in other currencies left out" in page
    assert "revenue in other currencies left out" in page
    quiet = client.get(f"/w/{ws.slug}/insights/", {"period": "custom", "from": str(D1), "to": str(D1)}).content.decode()
    assert "other currencies" not in quiet


def test_a_deal_recorded_as_won_or_lost_is_decided_then_and_an_open_one_is_not(tenant_a):
    ws = tenant_a.workspace
    with time_machine.travel(LATE_NOW, tick=False), workspace_scope(ws):
        made = {}
        for status in ("won", "lost", "open"):
            a = AssignmentFactory(ask=AskFactory(program=ProgramFactory(workspace=ws)), state="approved")
            made[status] = record_outcome(assignment=a, actor=tenant_a.manager, data={
                "kind": "deal", "deal_name": "Acme", "amount": "10", "deal_status": status}).decided_at
    assert made == {"won": LATE_NOW, "lost": LATE_NOW, "open": None}
