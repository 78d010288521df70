"""GET /api/v1/metrics/?from=&to=&program=&granularity= (PRODUCT.md "Interfaces"): totals, a
series and the KPIs from the rollups; 400 JSON for bad input, 404 for another workspace's
program; never another workspace's figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from tests.factories import (
    AdvocateDayFactory,
    AdvocateFactory,
    DailyMetricFactory,
    ProgramCostFactory,
    ProgramFactory,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/metrics/"


@pytest.fixture
def rows(tenant_a):
    ws = tenant_a.workspace
    program = ProgramFactory(workspace=ws)
    DailyMetricFactory(workspace=ws, day=date(2026, 3, 2), offers=3, active_advocates=5, referral_revenue=Decimal("10.50"),
                       nps_promoters=1, proof_by_kind={"review": 1})
    DailyMetricFactory(workspace=ws, day=date(2026, 3, 9), offers=4, active_advocates=6, revenue_won=Decimal("100"))
    DailyMetricFactory(workspace=ws, program=program, day=date(2026, 3, 9), offers=1)
    ProgramCostFactory(program=program, amount=Decimal("50"), incurred_on=date(2026, 3, 3))
    return ws, program


def test_totals_series_and_kpis_over_a_range(api_a, rows):
    response = api_a.get(URL, {"from": "2026-03-01", "to": "2026-03-15", "granularity": "week"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["from"], body["to"], body["granularity"], body["program"]) == ("2026-03-01", "2026-03-15", "week", None)
    totals = body["totals"]
    assert (totals["offers"], totals["active_advocates"], totals["referral_revenue"], totals["revenue_won"]) == (
        7, 6, "10.50", "100.00")
    assert totals["program_costs"] == "50.00" and totals["nps"] == "100.0" and totals["proof_by_kind"] == {"review": 1}
    # 1 March 2026 is a Sunday: weeks start 1, 2 and 9 March.
    assert [(b["period_start"], b["offers"]) for b in body["series"]] == [("2026-03-01", 0), ("2026-03-02", 3), ("2026-03-09", 4)]
    assert body["series"][0]["active_advocates"] is None
    # ROI = (10.50 + 100 - 50) / 50 = 1.21
    assert body["kpis"]["roi"] == "1.21" and body["kpis"]["roi_percent"] == "121.0"
    assert body["kpis"]["retention"] is None
    assert set(body["kpis"]["win_rate"]) == {"with_reference", "without_reference"}


def test_a_program_limits_the_figures_to_its_rows(api_a, rows):
    _, program = rows
    body = api_a.get(URL, {"from": "2026-03-01", "to": "2026-03-31", "program": program.pk, "granularity": "month"}).json()
    assert body["program"] == program.pk
    assert body["totals"]["offers"] == 1
    assert [b["period_start"] for b in body["series"]] == ["2026-03-01"]


@time_machine.travel("2026-03-20 12:00:00+00:00", tick=False)
def test_the_default_range_is_the_30_days_up_to_today_by_day(api_a, rows):
    body = api_a.get(URL).json()
    assert (body["from"], body["to"], body["granularity"]) == ("2026-02-19", "2026-03-20", "day")
    assert len(body["series"]) == 30


@pytest.mark.parametrize("query", [
    {"from": "2026-3-1"}, {"from": "2026-02-30"}, {"to": "tomorrow"}, {"from": "\u0662\u0660\u0662\u0666-01-01"},
    {"from": "1999-12-31"}, {"granularity": "hour"}, {"from": "2026-03-10", "to": "2026-03-01"},
    {"from": "2020-01-01", "to": "2026-01-01"}, {"program": "abc"}, {"program": "-1"}, {"program": "9" * 30},
    {"from": "2026-01-01\x00"},
])
def test_bad_query_parameters_are_400_json(api_a, query):
    response = api_a.get(URL, query)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["fields"]


def test_a_program_of_another_workspace_is_404(api_a, tenant_b):
    other = ProgramFactory(workspace=tenant_b.workspace)
    response = api_a.get(URL, {"program": other.pk})
    assert response.status_code == 404
    assert response.json() == api_a.get(URL, {"program": 2_000_000_000}).json()


def test_another_workspaces_rollups_never_show(api_a, tenant_a, tenant_b):
    DailyMetricFactory(workspace=tenant_b.workspace, day=date(2026, 3, 2), offers=1000, active_advocates=1000)
    ProgramCostFactory(program=ProgramFactory(workspace=tenant_b.workspace), amount=Decimal("5"), incurred_on=date(2026, 3, 2))
    AdvocateDayFactory(advocate=AdvocateFactory(workspace=tenant_b.workspace), day=date(2026, 2, 1))
    DailyMetricFactory(workspace=tenant_a.workspace, day=date(2026, 3, 2), offers=1)

    body = api_a.get(URL, {"from": "2026-03-01", "to": "2026-03-31"}).json()

    assert body["totals"]["offers"] == 1
    assert body["totals"]["active_advocates"] == 0
    assert body["totals"]["program_costs"] == "0.00"
    assert body["kpis"]["retention_at_start"] == 0


def test_without_a_key_it_is_401(client):
    assert client.get(URL).status_code == 401


def test_the_metrics_are_in_the_schema(api_a):
    from rest_framework.test import APIClient

    schema = APIClient().get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/metrics/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "program", "granularity"}
    assert "/api/v1/program-costs/{id}/" in schema["paths"]


def test_query_count_is_fixed_whatever_the_range(api_a, tenant_a, django_assert_num_queries):
    ws = tenant_a.workspace
    api_a.get(URL)  # warm
    for d in range(1, 29):
        DailyMetricFactory(workspace=ws, day=date(2026, 2, d), offers=d)
    with django_assert_num_queries(6) as short:
        api_a.get(URL, {"from": "2026-02-01", "to": "2026-02-02"})
    with django_assert_num_queries(len(short.captured_queries)):
        api_a.get(URL, {"from": "2025-02-01", "to": "2026-02-28", "granularity": "day"})
