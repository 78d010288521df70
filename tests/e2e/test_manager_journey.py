"""A manager signs in, finds advocates, and imports a CSV of 1,000 people with 3 bad lines."""

from __future__ import annotations

import csv
import re

import pytest
from playwright.sync_api import expect

from advocacy.models import Advocate, Role, Stage
from advocacy.scoping import scopes_disabled
from tests.factories import PASSWORD, AdvocateFactory, MembershipFactory, WorkspaceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROWS = 1000
BAD_LINES = {  # file line -> the reason the preview must give
    101: "is not a valid address",
    501: "is not a date in the form YYYY-MM-DD",
    901: "already appears on line 2",
}


def write_csv(path) -> None:
    """1,000 advocates; lines 101, 501 and 901 are wrong in three different ways."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name", "company", "customer_since", "tags"])
        for line in range(2, ROWS + 2):
            email, since = f"imported{line:04d}@newco.example", "2023-05-01"
            if line == 101:
                email = "not-an-email"
            elif line == 501:
                since = "2023-13-45"
            elif line == 901:
                email = "imported0002@newco.example"
            writer.writerow([email, f"Imported Person {line:04d}", "NewCo", since, "imported;csv"])


@pytest.fixture
def workspace_with_people(transactional_db):
    workspace = WorkspaceFactory(slug="acme", name="Acme Corp")
    manager = MembershipFactory(workspace=workspace, role=Role.MANAGER, user__email="manager@acme.example").user
    for i in range(60):
        AdvocateFactory(
            workspace=workspace, name=f"Person {i:02d}", email=f"person{i:02d}@customer.example",
            company="Globex" if i % 3 == 0 else "Initech",
            stage=Stage.PAUSED if i % 10 == 0 else Stage.ACTIVE,
        )
    return workspace, manager


def test_manager_finds_advocates_and_imports_a_csv_with_bad_lines_reported(
    page, snap, workspace_with_people, tmp_path
):
    workspace, manager = workspace_with_people

    # Sign in with email and password.
    page.goto("/accounts/login/")
    snap("login")
    page.fill("input[name=login]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/w/acme/$"))

    # Advocates: 60 seeded, two pages of 50.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Advocates").click()
    page.wait_for_url(re.compile(r"/w/acme/advocates/$"))
    expect(page.get_by_role("heading", name="Advocates", level=1)).to_be_visible()
    expect(page.locator(".pagination")).to_contain_text("Page 1 of 2 · 60 in all")
    expect(page.locator("tbody tr")).to_have_count(50)
    expect(page.get_by_role("link", name="Person 00", exact=True)).to_be_visible()
    snap("advocates")
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url(re.compile(r"page=2"))
    expect(page.locator("tbody tr")).to_have_count(10)

    # Search, then filter by stage on top of it.
    page.fill("#f-q", "Globex")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url(re.compile(r"q=Globex"))
    expect(page.locator("tbody tr")).to_have_count(20)
    expect(page.locator("tbody")).not_to_contain_text("Initech")
    page.select_option("#f-stage", "paused")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url(re.compile(r"stage=paused"))
    # Paused are 0, 10, …, 50; of those, Globex (i % 3 == 0) are 0, 30.
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody")).to_contain_text("Person 00")
    expect(page.locator("tbody")).to_contain_text("Person 30")
    snap("advocates-filtered")

    # Import a CSV: the preview reports the three bad lines with their reasons.
    csv_path = tmp_path / "customers.csv"
    write_csv(csv_path)
    page.locator(".topbar").get_by_role("link", name="Import CSV").click()
    page.wait_for_url(re.compile(r"/advocates/import/$"))
    page.set_input_files("input[type=file][name=file]", str(csv_path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/advocates/import/\d+/$"))
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    kpis = page.locator(".kpi")
    expect(kpis.filter(has_text="rows in the file").locator(".value")).to_have_text("1000")
    expect(kpis.filter(has_text="to add").locator(".value")).to_have_text("997")
    expect(kpis.filter(has_text="lines with errors").locator(".value")).to_have_text("3")
    expect(page.get_by_role("heading", name="Lines not imported (3)")).to_be_visible()
    error_rows = page.locator("#errors + .table-wrap tbody tr")
    expect(error_rows).to_have_count(3)
    for i, (line, reason) in enumerate(sorted(BAD_LINES.items())):
        expect(error_rows.nth(i).locator("td").nth(0)).to_have_text(str(line))
        expect(error_rows.nth(i).locator("td").nth(1)).to_contain_text(reason)
    snap("import-preview")

    # Confirm: the worker (eager here) imports it; the page shows progress, then the result.
    page.get_by_role("button", name="Import 997 rows").click()
    expect(page.locator(".alert.ok")).to_contain_text(
        "Import finished: 997 added, 0 updated, 3 lines not imported", timeout=60_000
    )
    snap("import-done")

    # The list now holds them.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Advocates").click()
    page.wait_for_url(re.compile(r"/w/acme/advocates/$"))
    expect(page.locator(".pagination")).to_contain_text("1057 in all")
    page.fill("#f-q", "imported0500@newco.example")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url(re.compile(r"q=imported0500"))
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("Imported Person 0500")
    with scopes_disabled():
        assert Advocate.objects.filter(workspace=workspace, company="NewCo").count() == 997
        assert not Advocate.objects.filter(workspace=workspace, email="not-an-email").exists()
