"""Program costs (the denominator of ROI): services, the pages /w/<slug>/insights/costs/
and the API /api/v1/program-costs/. Every change is audited; bad input is a 400 with a
clear message."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from advocacy.errors import ValidationFailed
from advocacy.models import AuditLog
from advocacy.scoping import workspace_scope
from insights.costs import create_cost, delete_cost, update_cost
from insights.models import ProgramCost
from tests.factories import ProgramCostFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def _audit(ws, action: str):
    return list(AuditLog.objects.with_scopes_disabled().filter(workspace=ws, action=action))


# --- services ---------------------------------------------------------------------------


def test_create_update_and_delete_are_audited(tenant_a):
    ws = tenant_a.workspace
    program = ProgramFactory(workspace=ws, name="Reviews")
    with workspace_scope(ws):
        cost = create_cost(workspace=ws, actor=tenant_a.manager, program=program, category="software",
                           amount="1200.50", incurred_on=date(2026, 3, 1), note="G2 licence")
        update_cost(cost=cost, actor=tenant_a.manager, data={"amount": Decimal("1300")})
        cost.refresh_from_db()
        assert cost.amount == Decimal("1300.00") and cost.created_by == tenant_a.manager
        delete_cost(cost=cost, actor=tenant_a.owner)

    [created] = _audit(ws, "program_cost.created")
    assert "1200.50" in created.message and "Reviews" in created.message and created.actor == tenant_a.manager
    [updated] = _audit(ws, "program_cost.updated")
    assert updated.data["changed"] == ["amount"]
    assert len(_audit(ws, "program_cost.deleted")) == 1
    assert not ProgramCost.objects.with_scopes_disabled().filter(workspace=ws).exists()


def test_an_update_that_changes_nothing_writes_no_audit_row(tenant_a):
    cost = ProgramCostFactory(program=ProgramFactory(workspace=tenant_a.workspace), amount=Decimal("5"))
    with workspace_scope(tenant_a.workspace):
        update_cost(cost=cost, actor=tenant_a.owner, data={"amount": Decimal("5.00")})
    assert _audit(tenant_a.workspace, "program_cost.updated") == []


@pytest.mark.parametrize(("field", "value"), [
    ("amount", "-1"), ("amount", "1e20"), ("amount", "NaN"), ("amount", "abc"), ("amount", "1.234"), ("amount", "\u0661\u0662"),
    ("category", "bribes"), ("incurred_on", date(1999, 12, 31)), ("note", "x" * 301), ("note", "a\x00b"),
])
def test_bad_values_are_refused_with_the_field_named(tenant_a, field, value):
    ws = tenant_a.workspace
    data = {"program": ProgramFactory(workspace=ws), "category": "software", "amount": "10", "incurred_on": date(2026, 1, 1)}
    data[field] = value
    with workspace_scope(ws), pytest.raises(ValidationFailed) as refused:
        create_cost(workspace=ws, actor=tenant_a.owner, **data)
    assert field in refused.value.fields


def test_a_program_of_another_workspace_is_refused(tenant_a, tenant_b):
    with workspace_scope(tenant_a.workspace), pytest.raises(ValidationFailed):
        create_cost(workspace=tenant_a.workspace, actor=tenant_a.owner, program=ProgramFactory(workspace=tenant_b.workspace),
                    category="staff", amount="1", incurred_on=date(2026, 1, 1))


# --- pages ------------------------------------------------------------------------------


def test_a_manager_adds_edits_and_deletes_a_cost_from_the_pages(client, tenant_a):
    ws = tenant_a.workspace
    program = ProgramFactory(workspace=ws, name="Referrals")
    client.force_login(tenant_a.manager)

    response = client.post(reverse("insights_cost_create", args=[ws.slug]), {
        "program": program.pk, "category": "events", "amount": "250.00", "incurred_on": "2026-02-03", "note": "Meetup"})
    assert response.status_code == 302
    cost = ProgramCost.objects.with_scopes_disabled().get(workspace=ws)
    assert (cost.amount, cost.incurred_on, cost.note) == (Decimal("250.00"), date(2026, 2, 3), "Meetup")

    listing = client.get(reverse("insights_costs", args=[ws.slug]))
    assert listing.status_code == 200 and "Meetup" in listing.content.decode()
    assert listing.context["grand_total"] == Decimal("250.00")

    response = client.post(reverse("insights_cost_edit", args=[ws.slug, cost.pk]), {
        "program": program.pk, "category": "events", "amount": "300", "incurred_on": "2026-02-03", "note": "Meetup"})
    assert response.status_code == 302
    cost.refresh_from_db()
    assert cost.amount == Decimal("300.00")

    confirm = client.get(reverse("insights_cost_delete", args=[ws.slug, cost.pk]))
    assert confirm.status_code == 200 and "Delete this cost?" in confirm.content.decode()
    assert client.post(reverse("insights_cost_delete", args=[ws.slug, cost.pk])).status_code == 302
    assert not ProgramCost.objects.with_scopes_disabled().filter(workspace=ws).exists()
    assert [a.action for a in AuditLog.objects.with_scopes_disabled().filter(workspace=ws, action__startswith="program_cost.")
            .order_by("id")] == ["program_cost.created", "program_cost.updated", "program_cost.deleted"]


@pytest.mark.parametrize("data", [
    {"amount": "-5"}, {"amount": "\u0661\u0662"}, {"incurred_on": "2026-02-30"}, {"incurred_on": "1800-01-01"}, {"category": "x"},
    {"program": "999999999"}, {"program": "abc"}, {"note": "a\x00b"}, {"amount": "9" * 40},
])
def test_bad_form_input_is_a_400_with_the_form_again(client, tenant_a, data):
    ws = tenant_a.workspace
    program = ProgramFactory(workspace=ws)
    client.force_login(tenant_a.owner)
    body = {"program": program.pk, "category": "staff", "amount": "10", "incurred_on": "2026-01-01", **data}
    response = client.post(reverse("insights_cost_create", args=[ws.slug]), body)
    assert response.status_code == 400
    assert not ProgramCost.objects.with_scopes_disabled().filter(workspace=ws).exists()


def test_the_cost_list_runs_a_fixed_number_of_queries(client, tenant_a, django_assert_num_queries):
    ws = tenant_a.workspace
    client.force_login(tenant_a.owner)
    programs = [ProgramFactory(workspace=ws) for _ in range(3)]
    for i in range(3):
        ProgramCostFactory(program=programs[i % 3])
    client.get(reverse("insights_costs", args=[ws.slug]))  # warm the session
    with django_assert_num_queries(8) as first:
        client.get(reverse("insights_costs", args=[ws.slug]))
    for i in range(30):
        ProgramCostFactory(program=programs[i % 3])
    with django_assert_num_queries(len(first.captured_queries)):
        client.get(reverse("insights_costs", args=[ws.slug]))


def test_viewers_read_the_cost_list_but_cannot_open_the_forms(client, tenant_a):
    ws = tenant_a.workspace
    cost = ProgramCostFactory(program=ProgramFactory(workspace=ws))
    client.force_login(tenant_a.viewer)
    assert client.get(reverse("insights_costs", args=[ws.slug])).status_code == 200
    assert "Add a cost" not in client.get(reverse("insights_costs", args=[ws.slug])).content.decode()
    assert client.get(reverse("insights_cost_create", args=[ws.slug])).status_code == 403
    assert client.get(reverse("insights_cost_edit", args=[ws.slug, cost.pk])).status_code == 403


def test_a_cost_shows_in_roi_at_once(client, tenant_a):
    from django.utils import timezone

    from tests.factories import DailyMetricFactory

    ws = tenant_a.workspace
    program = ProgramFactory(workspace=ws)
    DailyMetricFactory(workspace=ws, day=timezone.localdate(), revenue_won=Decimal("300"))
    client.force_login(tenant_a.owner)
    assert client.get(reverse("insights_dashboard", args=[ws.slug])).context["kpis"]["roi"] is None
    client.post(reverse("insights_cost_create", args=[ws.slug]), {
        "program": program.pk, "category": "staff", "amount": "100", "incurred_on": timezone.localdate().isoformat()})
    # (0 + 300 - 100) / 100 = 2
    assert client.get(reverse("insights_dashboard", args=[ws.slug])).context["kpis"]["roi"] == Decimal("2.00")


# --- API --------------------------------------------------------------------------------


def test_the_api_creates_lists_changes_and_deletes_costs(tenant_a, api_a):
    ws = tenant_a.workspace
    program = ProgramFactory(workspace=ws)

    response = api_a.post("/api/v1/program-costs/", {"program": program.pk, "category": "content", "amount": "99.90",
                                                     "incurred_on": "2026-04-01", "note": "Video"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["program"], body["amount"], body["incurred_on"], body["created_by"]) == (program.pk, "99.90", "2026-04-01", None)

    listing = api_a.get("/api/v1/program-costs/", {"program": program.pk}).json()
    assert [c["id"] for c in listing["results"]] == [body["id"]]

    patched = api_a.patch(f"/api/v1/program-costs/{body['id']}/", {"amount": "100"}, format="json")
    assert patched.status_code == 200 and patched.json()["amount"] == "100.00"

    assert api_a.delete(f"/api/v1/program-costs/{body['id']}/").status_code == 204
    assert [a.action for a in AuditLog.objects.with_scopes_disabled().filter(workspace=ws, action__startswith="program_cost.")
            .order_by("id")] == ["program_cost.created", "program_cost.updated", "program_cost.deleted"]


def test_the_api_answers_404_for_a_program_of_another_workspace(tenant_b, api_a):
    response = api_a.post("/api/v1/program-costs/", {"program": ProgramFactory(workspace=tenant_b.workspace).pk,
                                                     "category": "content", "amount": "1", "incurred_on": "2026-04-01"},
                          format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("body", [
    {"amount": "-1"}, {"amount": "1e30"}, {"category": "bribes"}, {"incurred_on": "2026-02-30"}, {"incurred_on": "1800-01-01"},
    {"program": "x"}, {"program": 10**30}, {"note": "a\x00b"}, {"amount": "\u0661\u0662"},
])
def test_the_api_refuses_bad_input_with_400_json(tenant_a, api_a, body):
    program = ProgramFactory(workspace=tenant_a.workspace)
    data = {"program": program.pk, "category": "content", "amount": "1", "incurred_on": "2026-04-01", **body}
    response = api_a.post("/api/v1/program-costs/", data, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("validation_error", "malformed_json")


def test_a_cost_marks_its_past_days_dirty_for_the_hourly_rollup(tenant_a):
    from insights.dirty import dirty_days
    from insights.periods import local_today

    ws = tenant_a.workspace
    today = local_today(ws)
    three_days_ago = date.fromordinal(today.toordinal() - 3)
    with workspace_scope(ws):
        cost = create_cost(workspace=ws, actor=None, program=ProgramFactory(workspace=ws), category="staff", amount="5",
                           incurred_on=three_days_ago)
    assert list(dirty_days(ws)) == [three_days_ago]
    with workspace_scope(ws):
        update_cost(cost=cost, actor=None, data={"incurred_on": date(2100, 1, 1)})  # a future day has no rollup yet
        update_cost(cost=cost, actor=None, data={"incurred_on": today})  # today is recomputed every hour anyway
    assert list(dirty_days(ws)) == [three_days_ago]


def test_the_api_list_runs_a_fixed_number_of_queries(tenant_a, api_a, django_assert_num_queries):
    program = ProgramFactory(workspace=tenant_a.workspace)
    for _ in range(3):
        ProgramCostFactory(program=program)
    api_a.get("/api/v1/program-costs/")  # warm
    # authenticate the key, count, page (with who recorded each)
    with django_assert_num_queries(3):
        assert len(api_a.get("/api/v1/program-costs/").json()["results"]) == 3
    for _ in range(30):
        ProgramCostFactory(program=program)
    with django_assert_num_queries(3):
        assert len(api_a.get("/api/v1/program-costs/").json()["results"]) == 33
