"""Manager pages that change one advocate or many: create, edit, stage changes, bulk
tags, the per-advocate data export and erasure."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from advocacy.models import ActivityEvent, Advocate, AuditLog, Stage
from tests.factories import ActivityEventFactory, AdvocateFactory

pytestmark = pytest.mark.django_db


def url(name: str, tenant, *args) -> str:
    return reverse(name, args=[tenant.workspace.slug, *args])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def form_data(**overrides) -> dict:
    data = {
        "name": "Ada Lovelace", "email": "Ada@Analytical.example", "company": "Analytical Engines", "title": "CTO",
        "type": "customer", "external_id": "", "customer_since": "2024-01-15", "renewal_date": "",
        "motivation": "intrinsic", "expressiveness": "introverted", "tags": "VIP, beta , vip",
    }
    data.update(overrides)
    return data


def timeline_titles(response) -> list[str]:
    return [item.title for item in response.context["timeline"]]


# --- Create ------------------------------------------------------------------------------


def test_manager_adds_an_advocate(client, tenant_a, no_scopes):
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_create", tenant_a), form_data(), follow=True)

    advocate = Advocate.objects.get(workspace=tenant_a.workspace, email="ada@analytical.example")
    assert response.redirect_chain == [(url("advocate_detail", tenant_a, advocate.pk), 302)]
    assert "Ada Lovelace was added." in messages_of(response)
    assert advocate.stage == Stage.CANDIDATE
    assert sorted(t.name for t in advocate.tags.all()) == ["beta", "vip"]
    assert str(advocate.customer_since) == "2024-01-15"
    assert "Added as candidate" in timeline_titles(response)
    assert AuditLog.objects.filter(advocate=advocate, action="advocate.created", actor=tenant_a.manager).exists()


def test_a_duplicate_email_in_another_case_is_a_form_error(client, tenant_a, no_scopes):
    AdvocateFactory(workspace=tenant_a.workspace, email="ada@analytical.example")
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_create", tenant_a), form_data(email="ADA@analytical.EXAMPLE"))

    assert response.status_code == 400
    assert response.context["form"].errors["email"] == ["Already in use."]
    assert Advocate.objects.filter(workspace=tenant_a.workspace, email__iexact="ada@analytical.example").count() == 1


def test_the_same_email_in_another_workspace_is_fine(client, tenant_a, tenant_b, no_scopes):
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_create", tenant_a), form_data(email=tenant_b.advocate.email))

    assert response.status_code == 302
    assert Advocate.objects.filter(email=tenant_b.advocate.email).count() == 2


def test_a_duplicate_external_id_is_a_form_error(client, tenant_a, no_scopes):
    AdvocateFactory(workspace=tenant_a.workspace, external_id="CRM-1")
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_create", tenant_a), form_data(external_id="CRM-1"))

    assert response.status_code == 400
    assert response.context["form"].errors["external_id"] == ["Already in use."]


def test_an_invalid_email_is_a_form_error(client, tenant_a):
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_create", tenant_a), form_data(email="not an email"))

    assert response.status_code == 400
    assert "email" in response.context["form"].errors


# --- Edit --------------------------------------------------------------------------------


def test_manager_edits_an_advocate(client, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, email="ada@analytical.example", name="Ada", tags=["old"])
    client.force_login(tenant_a.manager)

    form = client.get(url("advocate_edit", tenant_a, advocate.pk))
    response = client.post(url("advocate_edit", tenant_a, advocate.pk), form_data(name="Ada King", tags="new"), follow=True)

    assert form.context["form"].initial["tags"] == "old"
    assert response.redirect_chain == [(url("advocate_detail", tenant_a, advocate.pk), 302)]
    assert "Changes saved." in messages_of(response)
    advocate.refresh_from_db()
    assert (advocate.name, advocate.title, advocate.motivation) == ("Ada King", "CTO", "intrinsic")
    assert [t.name for t in advocate.tags.all()] == ["new"]
    change = AuditLog.objects.get(advocate=advocate, action="advocate.updated")
    assert change.data["name"] == ["Ada", "Ada King"]


def test_editing_to_an_email_of_another_advocate_is_a_form_error(client, tenant_a, no_scopes):
    AdvocateFactory(workspace=tenant_a.workspace, email="taken@customer.example")
    advocate = AdvocateFactory(workspace=tenant_a.workspace, email="mine@customer.example", name="Mine")
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_edit", tenant_a, advocate.pk), form_data(email="TAKEN@customer.example", name="Changed"))

    assert response.status_code == 400
    assert response.context["form"].errors["email"] == ["Already in use."]
    advocate.refresh_from_db()
    assert (advocate.email, advocate.name) == ("mine@customer.example", "Mine")


# --- Stage -------------------------------------------------------------------------------


def test_a_legal_stage_change_works_and_is_on_the_timeline(client, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, name="Ada", stage=Stage.ACTIVE)
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_stage", tenant_a, advocate.pk), {"stage": "paused", "reason": "on leave"}, follow=True)

    advocate.refresh_from_db()
    assert advocate.stage == Stage.PAUSED
    assert "Ada is now paused." in messages_of(response)
    assert "Stage: Active → Paused (on leave)" in timeline_titles(response)
    assert "Stage: Active → Paused (on leave)" in response.content.decode()


def test_an_illegal_stage_change_is_refused_with_a_clear_message(client, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, name="Ada", stage=Stage.OPTED_OUT)
    changed_at = advocate.stage_changed_at
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_stage", tenant_a, advocate.pk), {"stage": "active"}, follow=True)

    assert response.status_code == 200
    assert "An advocate who is opted out cannot become active." in messages_of(response)
    advocate.refresh_from_db()
    assert (advocate.stage, advocate.stage_changed_at) == (Stage.OPTED_OUT, changed_at)
    assert not AuditLog.objects.filter(advocate=advocate, action="advocate.stage_changed").exists()


def test_the_stage_form_offers_only_legal_next_stages(client, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE)
    client.force_login(tenant_a.manager)

    response = client.get(url("advocate_detail", tenant_a, advocate.pk))

    assert [value for value, _ in response.context["next_stages"]] == ["invited", "active", "opted_out"]


def test_an_unknown_stage_is_refused(client, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.ACTIVE)
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_stage", tenant_a, advocate.pk), {"stage": "royalty"}, follow=True)

    assert "Choose a stage." in messages_of(response)
    advocate.refresh_from_db()
    assert advocate.stage == Stage.ACTIVE


# --- Bulk tags ---------------------------------------------------------------------------


def test_bulk_tag_adds_and_removes_and_ignores_ids_of_another_workspace(client, tenant_a, tenant_b, no_scopes):
    mine = AdvocateFactory.create_batch(3, workspace=tenant_a.workspace)
    foreign = AdvocateFactory(workspace=tenant_b.workspace, tags=["keep"])
    client.force_login(tenant_a.manager)
    ids = [str(a.pk) for a in mine[:2]] + [str(foreign.pk), str(tenant_b.advocate.pk)]
    back = url("advocate_list", tenant_a) + "?tag=vip"

    added = client.post(url("advocate_bulk_tag", tenant_a), {"advocate": ids, "tag": " VIP ", "mode": "add", "next": back}, follow=True)

    assert added.redirect_chain == [(back, 302)]
    assert "Tag “vip” added to 2 advocates." in messages_of(added)
    assert {a.pk for a in Advocate.objects.filter(tags__name="vip")} == {mine[0].pk, mine[1].pk}
    assert [t.name for t in foreign.tags.all()] == ["keep"]
    assert not tenant_b.workspace.tags.filter(name="vip").exists()
    assert not AuditLog.objects.filter(workspace=tenant_b.workspace, action__startswith="advocate.tags").exists()

    removed = client.post(url("advocate_bulk_tag", tenant_a), {"advocate": [str(mine[0].pk), str(foreign.pk)], "tag": "vip", "mode": "remove"}, follow=True)

    assert "Tag “vip” removed from 1 advocate." in messages_of(removed)
    assert {a.pk for a in Advocate.objects.filter(tags__name="vip")} == {mine[1].pk}


def test_bulk_tag_with_only_foreign_ids_changes_nothing(client, tenant_a, tenant_b, no_scopes):
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_bulk_tag", tenant_a), {"advocate": [str(tenant_b.advocate.pk)], "tag": "vip", "mode": "add"}, follow=True)

    assert "Select at least one advocate." in messages_of(response)
    assert not Advocate.objects.filter(tags__name="vip").exists()


def test_bulk_tag_never_redirects_outside_the_workspace(client, tenant_a, no_scopes):
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_bulk_tag", tenant_a), {
        "advocate": [str(tenant_a.advocate.pk)], "tag": "vip", "mode": "add", "next": "https://evil.example/",
    })

    assert response["Location"] == url("advocate_list", tenant_a)


# --- Data export and erasure ---------------------------------------------------------------


def test_data_export_has_everything_about_one_advocate(client, tenant_a, tenant_b, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, name="Ada", email="ada@analytical.example", tags=["vip"])
    ActivityEventFactory(advocate=advocate, kind="purchase", value="12.50", properties={"sku": "A1"})
    ActivityEventFactory(advocate=AdvocateFactory(workspace=tenant_a.workspace))
    client.force_login(tenant_a.manager)
    client.post(url("advocate_stage", tenant_a, advocate.pk), {"stage": "paused"})

    response = client.get(url("advocate_data_export", tenant_a, advocate.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="advocate-{advocate.pk}.json"'
    data = json.loads(response.content)
    assert data["workspace"] == "alpha"
    assert data["advocate"]["id"] == advocate.pk
    assert data["advocate"]["email"] == "ada@analytical.example"
    assert data["advocate"]["stage"] == "paused"
    assert data["tags"] == ["vip"]
    assert [(e["kind"], e["value"], e["properties"]) for e in data["events"]] == [("purchase", "12.50", {"sku": "A1"})]
    assert [h["action"] for h in data["history"]] == ["advocate.stage_changed"]


def test_erasure_needs_the_word_erase(client, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, name="Ada", email="ada@analytical.example")
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_erase", tenant_a, advocate.pk), {"confirm": "yes"}, follow=True)

    assert response.redirect_chain == [(url("advocate_erase", tenant_a, advocate.pk), 302)]
    assert "Type “erase” to confirm." in messages_of(response)
    advocate.refresh_from_db()
    assert (advocate.name, advocate.erased_at) == ("Ada", None)


def test_erasure_anonymises_the_person_and_keeps_the_row(client, tenant_a, no_scopes):
    advocate = AdvocateFactory(
        workspace=tenant_a.workspace, name="Ada", email="ada@analytical.example", company="Engines", title="CTO",
        external_id="CRM-1", tags=["vip"], points_balance=120, lifetime_points=300,
    )
    event = ActivityEventFactory(advocate=advocate, properties={"page": "/pricing"})
    client.force_login(tenant_a.manager)

    response = client.post(url("advocate_erase", tenant_a, advocate.pk), {"confirm": "erase"}, follow=True)

    assert response.redirect_chain == [(url("advocate_detail", tenant_a, advocate.pk), 302)]
    assert "Personal data erased. Totals and history counts are kept." in messages_of(response)
    advocate.refresh_from_db()
    assert advocate.erased_at is not None
    assert advocate.name == "Erased advocate"
    assert advocate.email == f"erased-{advocate.pk}@erased.invalid"
    assert (advocate.company, advocate.title, advocate.external_id) == ("", "", None)
    assert advocate.stage == Stage.OPTED_OUT
    assert list(advocate.tags.all()) == []
    assert (advocate.points_balance, advocate.lifetime_points) == (120, 300)
    assert ActivityEvent.objects.get(pk=event.pk).properties == {}
    assert "Personal data erased on request" in timeline_titles(response)
    body = response.content.decode()
    assert "ada@analytical.example" not in body
    assert url("advocate_edit", tenant_a, advocate.pk) not in body


def test_an_erased_advocate_cannot_be_edited(client, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, name="Ada")
    client.force_login(tenant_a.manager)
    client.post(url("advocate_erase", tenant_a, advocate.pk), {"confirm": "erase"})

    response = client.post(url("advocate_edit", tenant_a, advocate.pk), form_data(name="Back again"))

    assert response.status_code == 400
    assert "This advocate was erased and can no longer be changed." in response.content.decode()
    advocate.refresh_from_db()
    assert advocate.name == "Erased advocate"


@pytest.mark.parametrize("name", ["advocate_create", "advocate_edit", "advocate_erase"])
def test_viewer_is_not_shown_forms_they_could_not_submit(client, tenant_a, name):
    client.force_login(tenant_a.viewer)
    args = [] if name == "advocate_create" else [tenant_a.advocate.pk]
    assert client.get(url(name, tenant_a, *args)).status_code == 403
    assert client.get(url("advocate_detail", tenant_a, tenant_a.advocate.pk)).status_code == 200
