"""Leaderboards rank advocates by points earned in a month, a quarter or all time, in the
workspace's timezone, per program, without those who opted out or were erased."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from advocacy.models import Workspace
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards.leaderboards import leaderboard, period_start
from rewards.models import EntryKind
from rewards.services import adjust_points, credit_points, debit_points
from tests.factories import PASSWORD, AdvocateFactory

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def earn(advocate, amount, at, key, kind=EntryKind.EARN_ASK, program_id=None):
    with time_machine.travel(at, tick=False), workspace_scope(advocate.workspace):
        return credit_points(advocate=advocate, amount=amount, kind=kind, reason="test", idempotency_key=key, program_id=program_id)


def board(workspace, period="all", **kw):
    with workspace_scope(workspace):
        return [(r.rank, r.advocate_id, r.points) for r in leaderboard(workspace=workspace, period=period, now=NOW, **kw)]


@pytest.mark.django_db
def test_ranked_by_points_earned_with_ties_sharing_a_rank_in_a_stable_order(tenant_a):
    ws = tenant_a.workspace
    a, b, c = (AdvocateFactory(workspace=ws) for _ in range(3))
    earn(a, 100, datetime(2026, 5, 2, tzinfo=UTC), "a1")
    earn(b, 300, datetime(2026, 5, 3, tzinfo=UTC), "b1")
    earn(c, 100, datetime(2026, 5, 1, tzinfo=UTC), "c1")  # reached 100 before a did
    assert board(ws) == [(1, b.pk, 300), (2, c.pk, 100), (2, a.pk, 100)]
    assert board(ws, limit=1) == [(1, b.pk, 300)]


@pytest.mark.django_db
def test_spending_and_refunds_do_not_count_but_positive_adjustments_do(tenant_a):
    ws = tenant_a.workspace
    a, b = AdvocateFactory(workspace=ws), AdvocateFactory(workspace=ws)
    earn(a, 500, datetime(2026, 5, 2, tzinfo=UTC), "a1")
    earn(b, 200, datetime(2026, 5, 2, tzinfo=UTC), "b1")
    with time_machine.travel(datetime(2026, 5, 3, tzinfo=UTC), tick=False), workspace_scope(ws):
        debit_points(advocate=a, amount=450, kind=EntryKind.REDEEM, reason="gift", idempotency_key="a2")
        credit_points(advocate=a, amount=450, kind=EntryKind.REFUND, reason="refund", idempotency_key="a3")
        adjust_points(advocate=b, amount=100, reason="missed", actor=tenant_a.manager, idempotency_key="b2")
        adjust_points(advocate=b, amount=-50, reason="oops", actor=tenant_a.manager, idempotency_key="b3")
    assert board(ws) == [(1, a.pk, 500), (2, b.pk, 300)]


@pytest.mark.django_db
def test_month_and_quarter_start_in_the_workspace_timezone(tenant_a):
    ws = tenant_a.workspace
    Workspace.objects.filter(pk=ws.pk).update(timezone="America/New_York")
    ws.refresh_from_db()
    a, b = AdvocateFactory(workspace=ws), AdvocateFactory(workspace=ws)
    earn(a, 70, datetime(2026, 5, 1, 3, 0, tzinfo=UTC), "a-april-in-ny")  # 30 April, 23:00 in New York
    earn(b, 40, datetime(2026, 5, 1, 5, 0, tzinfo=UTC), "b-may-in-ny")
    earn(b, 10, datetime(2026, 3, 31, 12, 0, tzinfo=UTC), "b-q1")
    assert board(ws, "month") == [(1, b.pk, 40)]
    assert board(ws, "quarter") == [(1, a.pk, 70), (2, b.pk, 40)]
    assert board(ws, "all") == [(1, a.pk, 70), (2, b.pk, 50)]
    assert period_start("quarter", workspace=ws, now=NOW).isoformat() == "2026-04-01T00:00:00-04:00"


@pytest.mark.django_db
def test_opted_out_erased_and_other_workspaces_are_not_listed(tenant_a, tenant_b):
    ws = tenant_a.workspace
    shy = AdvocateFactory(workspace=ws, show_on_leaderboards=False)
    gone = AdvocateFactory(workspace=ws)
    shown = AdvocateFactory(workspace=ws)
    at = datetime(2026, 5, 2, tzinfo=UTC)
    for i, adv in enumerate([shy, gone, shown, tenant_b.advocate]):
        earn(adv, 100 + i, at, f"k{i}")
    with scopes_disabled():
        type(gone).objects.filter(pk=gone.pk).update(erased_at=timezone.now())
    assert board(ws) == [(1, shown.pk, 102)]
    assert board(tenant_b.workspace) == [(1, tenant_b.advocate.pk, 103)]


@pytest.mark.django_db
def test_per_program_leaderboard_counts_only_that_programs_points(tenant_a):
    ws = tenant_a.workspace
    a, b = AdvocateFactory(workspace=ws), AdvocateFactory(workspace=ws)
    at = datetime(2026, 5, 2, tzinfo=UTC)
    earn(a, 100, at, "a1", program_id=7)
    earn(a, 900, at, "a2", program_id=8)
    earn(b, 200, at, "b1", program_id=7)
    assert board(ws, program_id=7) == [(1, b.pk, 200), (2, a.pk, 100)]
    assert board(ws) == [(1, a.pk, 1000), (2, b.pk, 200)]


@pytest.mark.django_db
def test_leaderboard_is_one_query(tenant_a, django_assert_num_queries):
    ws = tenant_a.workspace
    for i in range(30):
        earn(AdvocateFactory(workspace=ws), 10 + i, datetime(2026, 5, 2, tzinfo=UTC), f"k{i}")
    with django_assert_num_queries(1):
        assert len(board(ws, limit=20)) == 20


@pytest.mark.django_db
def test_manager_leaderboard_page_with_period_and_program_selectors(client, tenant_a):
    ws = tenant_a.workspace
    a = AdvocateFactory(workspace=ws, name="Ada Lovelace")
    earn(a, 100, timezone.now(), "a1", program_id=42)
    client.login(email=tenant_a.viewer.email, password=PASSWORD)
    url = reverse("leaderboard", args=[ws.slug])
    page = client.get(url).content.decode()
    assert "Ada Lovelace" in page and "Program 42" in page
    assert "Ada Lovelace" in client.get(url, {"program": "42", "period": "all"}).content.decode()
    assert client.get(url, {"period": "decade", "program": "x"}).status_code == 200


@pytest.mark.django_db
def test_manager_leaderboard_hides_the_program_selector_without_programs(client, tenant_a):
    earn(tenant_a.advocate, 100, timezone.now(), "a1")
    client.login(email=tenant_a.viewer.email, password=PASSWORD)
    page = client.get(reverse("leaderboard", args=[tenant_a.workspace.slug])).content.decode()
    assert 'name="program"' not in page and tenant_a.advocate.name in page
