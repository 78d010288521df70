"""The dashboard pages /w/<slug>/insights/ and /insights/programs/<id>/: KPI tiles, the
period selector (bad input falls back with a message, never a 500), the program
drill-down, CSV export of every table, "Refresh now"."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    AdvocateDayFactory,
    AdvocateFactory,
    DailyMetricFactory,
    ProgramCostFactory,
    ProgramFactory,
)

pytestmark = pytest.mark.django_db


def _url(ws, **query) -> str:
    from urllib.parse import urlencode

    base = reverse("insights_dashboard", args=[ws.slug])
    return f"{base}?{urlencode(query)}" if query else base


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def world(tenant_a):
    ws = tenant_a.workspace
    today = timezone.localdate()
    program = ProgramFactory(workspace=ws, name="Reviews 2026", objectives={"reviews": 10, "pipeline": 5000})
    DailyMetricFactory(workspace=ws, day=today - timedelta(days=2), active_advocates=42, referral_clicks=100, referral_leads=10,
                       referral_conversions=2, referral_revenue=Decimal("1500.00"), nps_promoters=3, nps_detractors=1,
                       revenue_won=Decimal("2500.00"), pipeline_influenced=Decimal("8000.00"), completions=4)
    DailyMetricFactory(workspace=ws, program=program, day=today - timedelta(days=2), completions=3,
                       proof_by_kind={"review": 3}, pipeline_influenced=Decimal("2000.00"))
    ProgramCostFactory(program=program, amount=Decimal("1000.00"), incurred_on=today - timedelta(days=3))
    advocate = AdvocateFactory(workspace=ws, name="Top Tina")
    AdvocateDayFactory(advocate=advocate, day=today - timedelta(days=2), points_earned=300, completions=2)
    return ws, program


def test_a_viewer_sees_the_kpi_tiles_of_the_last_30_days(client, tenant_a, world):
    ws, _ = world
    client.force_login(tenant_a.viewer)

    response = client.get(_url(ws))

    assert response.status_code == 200
    page = response.content.decode()
    kpis = response.context["kpis"]
    assert kpis["active_advocates"] == 42
    assert kpis["nps"] == Decimal("50.0")
    # ROI = (1500 + 2500 - 1000) / 1000 = 3
    assert kpis["roi_percent"] == Decimal("300.0")
    assert "Top Tina" in page and "Reviews 2026" in page
    assert "<svg" in page and "Referral funnel" in page
    assert "Refresh now" not in page  # viewers read only


def test_the_nav_has_a_dashboard_link(client, tenant_a):
    client.force_login(tenant_a.manager)
    page = client.get(reverse("manager_home", args=[tenant_a.workspace.slug])).content.decode()
    assert f'href="{_url(tenant_a.workspace)}"' in page


@pytest.mark.parametrize("query", [
    {"period": "forever"}, {"period": "custom", "from": "2026-13-45"}, {"period": "custom", "from": "\u0662\u0660\u0662\u0666-01-01"},
    {"period": "custom", "from": "1999-01-01"}, {"period": "custom", "from": "2026-01-01\x00"},
    {"period": "custom", "from": "2020-01-01", "to": "2026-01-01"}, {"granularity": "hour"}, {"export": "passwords"},
    {"program": "abc"}, {"program": "99999999999999999999"}, {"page": "x", "period": "ytd"},
])
def test_bad_query_strings_never_500(client, tenant_a, world, query):
    client.force_login(tenant_a.owner)
    response = client.get(_url(tenant_a.workspace, **query), follow=True)
    assert response.status_code in (200, 400)


def test_a_custom_period_longer_than_three_years_is_clamped_with_a_message(client, tenant_a):
    client.force_login(tenant_a.owner)
    response = client.get(_url(tenant_a.workspace, period="custom", **{"from": "2020-01-01", "to": "2026-01-01"}))
    period = response.context["period"]
    assert period.days == 1096 and period.end.isoformat() == "2026-01-01"
    assert "at most 1096 days" in response.content.decode()


def test_from_after_to_is_swapped_with_a_message(client, tenant_a):
    client.force_login(tenant_a.owner)
    response = client.get(_url(tenant_a.workspace, period="custom", **{"from": "2026-02-01", "to": "2026-01-01"}))
    period = response.context["period"]
    assert (period.start.isoformat(), period.end.isoformat()) == ("2026-01-01", "2026-02-01")
    assert "swapped" in response.content.decode()


@time_machine.travel("2026-05-20 12:00:00+00:00", tick=False)
def test_the_presets_cover_whole_local_days(client, tenant_a):
    client.force_login(tenant_a.owner)
    for key, start in [("30d", "2026-04-21"), ("90d", "2026-02-20"), ("12m", "2025-05-21"), ("ytd", "2026-01-01")]:
        period = client.get(_url(tenant_a.workspace, period=key)).context["period"]
        assert (period.start.isoformat(), period.end.isoformat()) == (start, "2026-05-20"), key


def test_the_program_filter_drills_down_to_the_programs_page_keeping_the_period(client, tenant_a, world):
    ws, program = world
    client.force_login(tenant_a.manager)

    response = client.get(_url(ws, period="90d", program=program.pk))

    assert response.status_code == 302
    assert response["Location"] == reverse("insights_program", args=[ws.slug, program.pk]) + "?period=90d"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert page.context["program"] == program
    assert page.context["totals"]["completions"] == 3  # the program's row, not the workspace's 4
    assert page.context["top_advocates"] is None
    [row] = page.context["program_rows"]
    assert {o["key"]: o["to_date"] for o in row["objectives"]} == {"reviews": 3, "pipeline": Decimal("2000.00")}


def test_another_workspaces_program_is_404_on_the_drill_down(client, tenant_a, tenant_b):
    other = ProgramFactory(workspace=tenant_b.workspace)
    client.force_login(tenant_a.owner)
    assert client.get(reverse("insights_program", args=[tenant_a.workspace.slug, other.pk])).status_code == 404
    response = client.get(_url(tenant_a.workspace, program=other.pk))
    assert response["Location"].startswith(_url(tenant_a.workspace))


@pytest.mark.parametrize(("table", "first_column"), [
    ("kpis", "metric"), ("trend", "period_start"), ("funnel", "step"), ("nps", "month"), ("top_advocates", "advocate_id"),
    ("programs", "program_id"), ("objectives", "program_id"),
])
def test_every_table_exports_as_csv(client, tenant_a, world, table, first_column):
    client.force_login(tenant_a.viewer)
    response = client.get(_url(tenant_a.workspace, export=table))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert rows[0][0] == first_column
    assert len(rows) > 1


def test_the_funnel_and_kpi_exports_hold_the_figures(client, tenant_a, world):
    client.force_login(tenant_a.viewer)
    funnel = _csv(client.get(_url(tenant_a.workspace, export="funnel")))
    assert funnel[1:] == [["Clicks", "100", ""], ["Leads", "10", "10.0"], ["Conversions", "2", "20.0"]]
    kpis = {r[0]: r[2] for r in _csv(client.get(_url(tenant_a.workspace, export="kpis")))[1:]}
    assert kpis["roi"] == "3.00" and kpis["referral_revenue"] == "1500.00"


def test_exported_names_cannot_run_as_formulas(client, tenant_a):
    ws = tenant_a.workspace
    program = ProgramFactory(workspace=ws, name="=HYPERLINK(\"http://evil\")")
    DailyMetricFactory(workspace=ws, program=program, day=timezone.localdate(), completions=1)
    client.force_login(tenant_a.owner)
    rows = _csv(client.get(_url(ws, export="programs")))
    assert rows[1][1].startswith("'=")


def test_refresh_now_rolls_today_up_again(client, tenant_a, world, monkeypatch, django_capture_on_commit_callbacks):
    import insights.rollups

    ws, _ = world
    calls = []
    monkeypatch.setattr(insights.rollups, "rollup_days", lambda **kw: calls.append(kw) or 1)
    client.force_login(tenant_a.manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("insights_refresh", args=[ws.slug]), {"next": _url(ws, period="90d")})

    assert response.status_code == 302 and response["Location"] == _url(ws, period="90d")
    # Celery is eager in tests: the task ran after the commit, for today of this workspace only.
    assert [(c["workspace"].pk, c["start"], c["end"]) for c in calls] == [(ws.pk, timezone.localdate(), timezone.localdate())]


def test_refresh_now_ignores_a_next_outside_the_dashboard(client, tenant_a):
    client.force_login(tenant_a.owner)
    response = client.post(reverse("insights_refresh", args=[tenant_a.workspace.slug]), {"next": "https://evil.example/"})
    assert response["Location"] == _url(tenant_a.workspace)


def test_a_viewer_cannot_refresh(client, tenant_a):
    client.force_login(tenant_a.viewer)
    assert client.post(reverse("insights_refresh", args=[tenant_a.workspace.slug])).status_code == 403


def test_an_empty_workspace_shows_empty_states(client, tenant_a):
    client.force_login(tenant_a.owner)
    response = client.get(_url(tenant_a.workspace))
    assert response.status_code == 200
    page = response.content.decode()
    assert "No programs yet" in page and "Nothing rolled up for this period yet" in page
    assert response.context["kpis"]["roi"] is None and response.context["kpis"]["retention"] is None


@pytest.mark.parametrize("name", ["insights_program", "insights_cost_edit", "insights_cost_delete"])
def test_huge_ids_in_the_path_are_404(client, tenant_a, name):
    client.force_login(tenant_a.owner)
    assert client.get(reverse(name, args=[tenant_a.workspace.slug, 10**20])).status_code == 404
