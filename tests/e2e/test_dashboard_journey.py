"""Issue 7's journey in the browser: a manager opens the dashboard from the menu, changes the
period, drills into a program and exports one of its tables as CSV."""

from __future__ import annotations

import csv
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from advocacy.models import Role
from tests.factories import (
    PASSWORD,
    DailyMetricFactory,
    MembershipFactory,
    ProgramCostFactory,
    ProgramFactory,
    WorkspaceFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme(transactional_db):
    """Acme: two programs; one day of rollups 5 days ago and one 200 days ago (inside the last
    12 months, outside the last 30 days)."""
    workspace = WorkspaceFactory(slug="acme", name="Acme Corp", currency="EUR")
    manager = MembershipFactory(workspace=workspace, role=Role.MANAGER, user__email="manager@acme.example").user
    reviews = ProgramFactory(workspace=workspace, name="Reviews that help", objectives={"reviews": 20})
    ProgramFactory(workspace=workspace, name="Refer a friend")
    today = timezone.localdate()
    for days_ago, active, completions in [(5, 40, 3), (200, 25, 7)]:
        day = today - timedelta(days=days_ago)
        DailyMetricFactory(workspace=workspace, day=day, active_advocates=active, completions=completions,
                           referral_clicks=10 * completions, referral_leads=completions, referral_conversions=1,
                           referral_revenue=Decimal("500.00"))
        DailyMetricFactory(workspace=workspace, program=reviews, day=day, completions=completions,
                           proof_by_kind={"review": completions})
    ProgramCostFactory(program=reviews, amount=Decimal("250.00"), incurred_on=today - timedelta(days=5))
    return workspace, manager, reviews


def test_manager_opens_the_dashboard_changes_the_period_drills_into_a_program_and_exports_csv(page, snap, acme, tmp_path):
    _, manager, reviews = acme

    page.goto("/accounts/login/")
    page.fill("input[name=login]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/w/acme/$"))

    # The dashboard from the menu: the last 30 days by default.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    page.wait_for_url(re.compile(r"/w/acme/insights/$"))
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    tiles = page.locator(".kpi")
    expect(tiles.filter(has_text="Active advocates").locator(".value")).to_have_text("40")
    expect(tiles.filter(has_text="Referral revenue").locator(".value")).to_have_text("500.00")
    # ROI = (500 - 250) / 250 = 100%
    expect(tiles.filter(has_text="ROI").locator(".value")).to_have_text("100.0%")
    expect(page.locator("svg.chart").first).to_be_visible()
    snap("dashboard-30d")

    # The last 12 months: both days count.
    page.select_option("#period", "12m")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"period=12m"))
    expect(tiles.filter(has_text="Referral revenue").locator(".value")).to_have_text("1,000.00")
    funnel = page.get_by_role("region", name="Referral funnel")
    expect(funnel.locator("tbody tr").first).to_contain_text("100")  # 30 + 70 clicks
    snap("dashboard-12m")

    # Drill into the program: its own figures and objectives, the period kept.
    page.locator("table").get_by_role("link", name="Reviews that help").click()
    page.wait_for_url(re.compile(rf"/w/acme/insights/programs/{reviews.pk}/\?.*period=12m"))
    expect(page.get_by_role("heading", name="Reviews that help", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Objectives of Reviews that help")).to_contain_text("10")  # 3 + 7 reviews of 20
    snap("program")

    # Export the program's table as CSV.
    with page.expect_download() as download_info:
        page.locator("a[href*='export=programs']").click()
    path = tmp_path / "programs.csv"
    download_info.value.save_as(path)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:4] == ["program_id", "program", "offers", "completions"]
    assert rows[1][1] == "Reviews that help" and rows[1][3] == "10"
