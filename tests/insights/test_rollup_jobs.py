"""The rollup's entry points: ``rollup_metrics`` (dates, limits, errors) and the hourly and
nightly tasks (fan out per workspace, each on its own local day)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command

from advocacy.models import ActivityEvent, EventKind
from advocacy.scoping import workspace_scope
from insights import tasks
from insights.models import DailyMetric
from insights.rollups import local_today, rollup_days
from rewards.models import EntryKind, LedgerEntry

NOW = datetime(2026, 2, 10, 20, 0, tzinfo=UTC)  # 09:00 on 11 Feb in Auckland, 15:00 on 10 Feb in New York


def _event(tenant, when):
    with workspace_scope(tenant.workspace):
        ActivityEvent.objects.create(workspace=tenant.workspace, advocate=tenant.advocate, kind=EventKind.EMAIL_OPEN,
                                     occurred_at=when)


def _days(workspace) -> dict:
    with workspace_scope(workspace):
        return dict(DailyMetric.objects.filter(workspace=workspace, program=None).values_list("day", "events"))


@pytest.fixture
def zones(tenant_a, tenant_b):
    tenant_a.workspace.timezone = "Pacific/Auckland"
    tenant_a.workspace.save(update_fields=["timezone"])
    tenant_b.workspace.timezone = "America/New_York"
    tenant_b.workspace.save(update_fields=["timezone"])
    return tenant_a, tenant_b


def test_local_today_is_the_workspace_calendar_day(zones):
    a, b = zones
    with time_machine.travel(NOW, tick=False):
        assert local_today(a.workspace) == date(2026, 2, 11)
        assert local_today(b.workspace) == date(2026, 2, 10)


def test_rollup_today_fans_out_to_every_workspace_on_its_own_local_day(zones):
    a, b = zones
    _event(a, NOW - timedelta(hours=1))
    _event(b, NOW - timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        assert tasks.rollup_today() >= 2
    assert _days(a.workspace) == {date(2026, 2, 11): 1}
    assert _days(b.workspace) == {date(2026, 2, 10): 1}


def test_rollup_yesterday_recomputes_the_local_yesterday(zones):
    a, b = zones
    _event(b, NOW - timedelta(days=1))
    with time_machine.travel(NOW, tick=False):
        tasks.rollup_yesterday()
    assert _days(b.workspace) == {date(2026, 2, 9): 1}
    assert _days(a.workspace) == {date(2026, 2, 10): 0}


def test_the_command_without_dates_rolls_up_today(zones):
    a, _ = zones
    _event(a, NOW)
    with time_machine.travel(NOW, tick=False):
        call_command("rollup_metrics", "--workspace", a.workspace.slug)
    assert _days(a.workspace) == {date(2026, 2, 11): 1}


def test_the_command_with_one_date_rolls_up_that_day(tenant_a):
    call_command("rollup_metrics", "--workspace", tenant_a.workspace.slug, "--from", "2025-03-01")
    call_command("rollup_metrics", "--workspace", tenant_a.workspace.slug, "--to", "2025-03-05")
    assert set(_days(tenant_a.workspace)) == {date(2025, 3, 1), date(2025, 3, 5)}


def test_the_command_backfills_a_range_with_a_row_for_every_day(tenant_a):
    call_command("rollup_metrics", "--workspace", tenant_a.workspace.slug, "--from", "2025-01-01", "--to", "2025-03-01")
    assert len(_days(tenant_a.workspace)) == 60


@pytest.mark.parametrize("value", ["2025-13-01", "yesterday", "2025-1-1", "\uff12\uff10\uff12\uff15-01-01", "2025-01-01\x00", "99999-01-01", ""])
def test_the_command_refuses_a_malformed_date_with_a_clear_message(tenant_a, value):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("rollup_metrics", "--from", value)


def test_the_command_refuses_from_after_to(tenant_a):
    with pytest.raises(CommandError, match="after"):
        call_command("rollup_metrics", "--from", "2025-03-02", "--to", "2025-03-01")


def test_the_command_refuses_more_than_three_years(tenant_a):
    with pytest.raises(CommandError, match="3 years"):
        call_command("rollup_metrics", "--from", "2020-01-01", "--to", "2024-01-01")


def test_the_command_refuses_an_unknown_workspace(tenant_a):
    with pytest.raises(CommandError, match="No workspace"):
        call_command("rollup_metrics", "--workspace", "nope")


def test_rollup_days_refuses_a_range_that_ends_before_it_starts(tenant_a):
    with pytest.raises(ValueError):
        rollup_days(workspace=tenant_a.workspace, start=date(2025, 3, 2), end=date(2025, 3, 1))


def test_a_long_range_is_computed_in_chunks_with_the_same_result(tenant_a, monkeypatch):
    from insights import rollups

    ws = tenant_a.workspace
    for day in (date(2025, 1, 3), date(2025, 1, 20), date(2025, 2, 14)):
        when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        _event(tenant_a, when)
        with workspace_scope(ws):
            LedgerEntry.objects.create(workspace=ws, advocate=tenant_a.advocate, kind=EntryKind.EARN_BONUS, amount=day.day,
                                       reason="bonus", idempotency_key=f"bonus-{day}", balance_after=0, created_at=when)
    fields = ("day", "events", "active_advocates", "new_advocates", "points_earned", "points_outstanding")
    with workspace_scope(ws):
        rollup_days(workspace=ws, start=date(2025, 1, 1), end=date(2025, 2, 28))
        whole = list(DailyMetric.objects.filter(program=None).values_list(*fields))
        monkeypatch.setattr(rollups, "CHUNK_DAYS", 7)
        rollup_days(workspace=ws, start=date(2025, 1, 1), end=date(2025, 2, 28))
        chunked = list(DailyMetric.objects.filter(program=None).values_list(*fields))
    assert chunked == whole
    assert sum(row[1] for row in whole) == 3 and sum(row[3] for row in whole) == 1
    outstanding = {row[0]: row[5] for row in whole}
    assert outstanding[date(2025, 1, 2)] == 0 and outstanding[date(2025, 1, 3)] == 3
    assert outstanding[date(2025, 2, 13)] == 23 and outstanding[date(2025, 2, 28)] == 37  # 3 + 20 + 14


def test_the_fan_out_sends_one_rollup_per_workspace_to_the_rollups_queue(zones, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.rollup_workspace, "apply_async", lambda **kw: sent.append(kw))
    assert tasks.rollup_yesterday() == len(sent) >= 2
    assert {kw["queue"] for kw in sent} == {"rollups"}
    assert {kw["kwargs"]["workspace_id"] for kw in sent} >= {w.workspace.pk for w in zones}
    assert {kw["kwargs"]["days_ago"] for kw in sent} == {1}


def test_the_demo_seed_rolls_up_the_past_year_and_is_safe_to_rerun(tenant_a):
    import random

    from insights import demo
    from insights.models import ProgramCost
    from tests.factories import ProgramFactory

    ProgramFactory(workspace=tenant_a.workspace)
    _event(tenant_a, datetime.now(UTC) - timedelta(days=30))
    with workspace_scope(tenant_a.workspace):
        first = demo.seed(workspace=tenant_a.workspace, rng=random.Random(1))
        costs = ProgramCost.objects.filter(workspace=tenant_a.workspace).count()
        second = demo.seed(workspace=tenant_a.workspace, rng=random.Random(1))
        assert ProgramCost.objects.filter(workspace=tenant_a.workspace).count() == costs == 12
    assert first.startswith("12 program costs, 365 days rolled up") and second.startswith("0 program costs, 365 days rolled up")
    days = _days(tenant_a.workspace)
    assert len(days) == 365 and sum(days.values()) == 1


def test_a_chunk_runs_a_fixed_number_of_statements_whatever_its_days_and_rows(tenant_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ws = tenant_a.workspace
    counts = []
    for days, events in ((1, 0), (25, 40)):
        for i in range(events):
            _event(tenant_a, datetime(2025, 1, 1 + i % 25, 12, tzinfo=UTC))
        with workspace_scope(ws), CaptureQueriesContext(connection) as queries:
            rollup_days(workspace=ws, start=date(2025, 1, 1), end=date(2025, 1, days))
        counts.append(len(queries))
    # (a chunk, then the levels of the days after the range that were rolled up: a fixed few)
    assert counts[0] == counts[1] < 40


def test_the_first_hourly_run_of_a_local_day_also_finishes_yesterday(tenant_a, tenant_b):
    ws = tenant_a.workspace
    ws.timezone = "America/New_York"
    ws.save(update_fields=["timezone"])
    late = datetime(2026, 2, 10, 4, 50, tzinfo=UTC)  # 23:50 on 9 Feb in New York, after the last hourly run of the 9th
    _event(tenant_a, late)
    with time_machine.travel(datetime(2026, 2, 10, 5, 25, tzinfo=UTC), tick=False):  # 00:25 on the 10th
        tasks.rollup_workspace(workspace_id=ws.pk)  # "Refresh now": today only
        assert _days(ws) == {date(2026, 2, 10): 0}
        tasks.rollup_today()
    assert _days(ws) == {date(2026, 2, 9): 1, date(2026, 2, 10): 0}
    assert _days(tenant_b.workspace) == {date(2026, 2, 10): 0}  # UTC: 05:25, past its first hours
    with time_machine.travel(datetime(2026, 2, 10, 15, 25, tzinfo=UTC), tick=False):  # 10:25: today only
        with workspace_scope(ws):
            DailyMetric.objects.all().delete()
        tasks.rollup_today()
    assert _days(ws) == {date(2026, 2, 10): 0}
