"""The catalog and redemptions through their front doors: the API (409s with the portal's
messages, Idempotency-Key, actions), the manager pages and the portal; query counts pinned."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from advocacy.models import AuditLog
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards import redemptions as svc
from rewards.models import CatalogItem, ItemKind, Redemption, RewardSettings
from tests.factories import AdvocateFactory
from tests.rewards.helpers import credit, make_item

Status = Redemption.Status
pytestmark = pytest.mark.django_db


def redeem(advocate, item):
    with workspace_scope(advocate.workspace):
        return svc.redeem(advocate=advocate, item=item, actor=None)


def reload(obj):
    with scopes_disabled():
        return type(obj).objects.get(pk=obj.pk)


def portal_refusal(client, tenant, item) -> tuple[int, str]:
    client.force_login(tenant.advocate_user)
    response = client.post(reverse("portal_redeem", args=[tenant.workspace.slug, item.pk]))
    match = re.search(r'<div class="alert bad" role="alert">(.*?)</div>', response.content.decode())
    assert match, response.content.decode()[:2000]
    from html import unescape

    return response.status_code, unescape(match.group(1))


def api_refusal(tenant, item) -> tuple[int, str, str]:
    response = tenant.api().post("/api/v1/rewards/redemptions/", {"advocate": tenant.advocate.pk, "item": item.pk}, format="json")
    return response.status_code, response.json()["error"]["code"], response.json()["error"]["message"]


# --- refusals: 409 in the API, the same words in the portal -------------------------------------


@pytest.mark.parametrize("case", ["too_few_points", "out_of_stock", "over_limit", "over_yearly_cap"])
def test_each_refusal_is_a_409_in_the_api_and_the_same_message_in_the_portal(client, tenant_a, case):
    a = tenant_a.advocate
    credit(a, 150)
    if case == "too_few_points":
        item = make_item(a.workspace, cost=500)
    elif case == "out_of_stock":
        item = make_item(a.workspace, stock=0)
    elif case == "over_limit":
        item = make_item(a.workspace, cost=10, per_advocate_limit=1)
        redeem(a, item)
    else:
        RewardSettings.objects.with_scopes_disabled().create(workspace=a.workspace, yearly_value_cap=Decimal("10"))
        item = make_item(a.workspace, cost=10, value=Decimal("25"))
    status, code, api_message = api_refusal(tenant_a, item)
    assert status == 409
    assert code == {"too_few_points": "not_enough_points"}.get(case, case)
    page_status, page_message = portal_refusal(client, tenant_a, item)
    assert page_status == 409
    assert page_message == api_message
    with scopes_disabled():
        assert Redemption.objects.filter(advocate=a).count() == (1 if case == "over_limit" else 0)


# --- API ------------------------------------------------------------------------------------------


def test_api_redeems_once_per_idempotency_key(tenant_a):
    a = tenant_a.advocate
    credit(a, 500)
    item = make_item(a.workspace)
    api = tenant_a.api()
    body = {"advocate": a.pk, "item": item.pk}
    first = api.post("/api/v1/rewards/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    again = api.post("/api/v1/rewards/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert first.json()["status"] == "requested" and first.json()["points"] == 100
    assert reload(a).points_balance == 400


def test_api_actions_move_the_redemption_and_illegal_ones_are_409(tenant_a):
    a = tenant_a.advocate
    credit(a, 100)
    r = redeem(a, make_item(a.workspace))
    api = tenant_a.api()
    base = f"/api/v1/rewards/redemptions/{r.pk}"
    wrong = api.post(f"{base}/fulfil/", {"note": "x"}, format="json")
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "invalid_transition"
    assert "requested, so it cannot be fulfilled" in wrong.json()["error"]["message"]
    assert api.post(f"{base}/approve/", format="json").json()["status"] == "approved"
    done = api.post(f"{base}/fulfil/", {"note": "Tracking 42"}, format="json")
    assert done.status_code == 200 and done.json()["fulfilment_note"] == "Tracking 42"
    assert api.post(f"{base}/cancel/", {"reason": "late"}, format="json").status_code == 409


def test_api_reject_needs_a_reason_and_refunds_once(tenant_a):
    a = tenant_a.advocate
    credit(a, 100)
    r = redeem(a, make_item(a.workspace))
    api = tenant_a.api()
    assert api.post(f"/api/v1/rewards/redemptions/{r.pk}/reject/", {}, format="json").status_code == 400
    ok = api.post(f"/api/v1/rewards/redemptions/{r.pk}/reject/", {"reason": "duplicate"}, format="json")
    assert ok.status_code == 200 and ok.json()["refund_entry"] is not None
    assert api.post(f"/api/v1/rewards/redemptions/{r.pk}/reject/", {"reason": "duplicate"}, format="json").status_code == 409
    assert reload(a).points_balance == 100


def test_api_lists_filter_by_status_and_advocate(tenant_a):
    a = tenant_a.advocate
    other = AdvocateFactory(workspace=tenant_a.workspace)
    credit(a, 300)
    credit(other, 100, "o")
    item = make_item(a.workspace)
    r1 = redeem(a, item)
    redeem(a, item)
    redeem(other, item)
    with workspace_scope(a.workspace):
        svc.approve(redemption=r1, actor=None)
    api = tenant_a.api()
    assert [x["id"] for x in api.get("/api/v1/rewards/redemptions/?status=approved").json()["results"]] == [r1.pk]
    assert api.get(f"/api/v1/rewards/redemptions/?advocate={other.pk}").json()["count"] == 1


def test_api_catalog_crud_validates_and_refuses_to_delete_a_redeemed_item(tenant_a):
    api = tenant_a.api()
    bad = api.post("/api/v1/rewards/catalog/", {"name": "Gift", "kind": "charity", "cost": 0}, format="json")
    assert bad.status_code == 400 and "cost" in bad.json()["error"]["fields"]
    no_charity = api.post("/api/v1/rewards/catalog/", {"name": "Gift", "kind": "charity", "cost": 10}, format="json")
    assert no_charity.status_code == 400 and "charity_name" in no_charity.json()["error"]["fields"]
    made = api.post("/api/v1/rewards/catalog/", {"name": "Trees", "kind": "charity", "cost": 10, "charity_name": "Trees Inc", "stock": 5}, format="json")
    assert made.status_code == 201, made.json()
    pk = made.json()["id"]
    assert api.patch(f"/api/v1/rewards/catalog/{pk}/", {"cost": 20}, format="json").json()["cost"] == 20
    credit(tenant_a.advocate, 20)
    redeem(tenant_a.advocate, CatalogItem.objects.with_scopes_disabled().get(pk=pk))
    refused = api.delete(f"/api/v1/rewards/catalog/{pk}/")
    assert refused.status_code == 409 and "inactive" in refused.json()["error"]["message"]
    with scopes_disabled():
        assert AuditLog.objects.filter(workspace=tenant_a.workspace, action="catalog.created").count() == 1


def test_api_another_workspaces_items_and_redemptions_are_404(tenant_a, tenant_b):
    credit(tenant_b.advocate, 100)
    item_b = make_item(tenant_b.workspace)
    r_b = redeem(tenant_b.advocate, item_b)
    api = tenant_a.api()
    assert api.get(f"/api/v1/rewards/catalog/{item_b.pk}/").status_code == 404
    assert api.get(f"/api/v1/rewards/redemptions/{r_b.pk}/").status_code == 404
    assert api.post(f"/api/v1/rewards/redemptions/{r_b.pk}/reject/", {"reason": "x"}, format="json").status_code == 404
    assert api.post("/api/v1/rewards/redemptions/", {"advocate": tenant_a.advocate.pk, "item": item_b.pk}, format="json").status_code == 404
    assert reload(r_b).status == Status.REQUESTED


@pytest.mark.parametrize("url", ["/api/v1/rewards/redemptions/", "/api/v1/rewards/catalog/"])
def test_api_lists_take_the_same_queries_for_ten_and_fifty_rows(tenant_a, django_assert_num_queries, url):
    a = tenant_a.advocate
    credit(a, 100_000)
    api = tenant_a.api()

    def add(n):
        for _ in range(n):
            redeem(a, make_item(a.workspace, cost=10))

    add(10)
    api.get(url)  # the key's first use of the day records it
    with CaptureQueriesContext(connection) as ten:
        api.get(url)
    add(40)
    with django_assert_num_queries(len(ten.captured_queries)):
        assert api.get(url).json()["count"] == 50


# --- manager pages ---------------------------------------------------------------------------------


def test_manager_creates_and_edits_an_item_and_bad_input_is_a_form_error(client, tenant_a):
    client.force_login(tenant_a.manager)
    slug = tenant_a.workspace.slug
    bad = client.post(reverse("rewards_catalog_create", args=[slug]), {"name": "Mug", "kind": "swag", "cost": "-3", "value": "x"})
    assert bad.status_code == 400 and b"errorlist" in bad.content
    charity = client.post(reverse("rewards_catalog_create", args=[slug]), {"name": "Trees", "kind": "charity", "cost": "10", "value": "0"})
    assert charity.status_code == 400 and "charity" in charity.content.decode()
    ok = client.post(reverse("rewards_catalog_create", args=[slug]), {
        "name": "Mug", "kind": "swag", "cost": "100", "value": "12.50", "stock": "5", "needs_approval": "on", "active": "on",
    })
    assert ok.status_code == 302
    item = CatalogItem.objects.with_scopes_disabled().get(workspace=tenant_a.workspace)
    edit = client.post(reverse("rewards_catalog_edit", args=[slug, item.pk]), {
        "name": "Big mug", "kind": "swag", "cost": "150", "value": "12.50", "stock": "", "active": "on",
    })
    assert edit.status_code == 302
    item = reload(item)
    assert (item.name, item.cost, item.stock, item.needs_approval) == ("Big mug", 150, None, False)
    listing = client.get(reverse("rewards_catalog", args=[slug]))
    assert b"Big mug" in listing.content and b"unlimited" in listing.content


def test_the_catalog_page_has_an_empty_state_and_viewers_cannot_add(client, tenant_a):
    client.force_login(tenant_a.viewer)
    page = client.get(reverse("rewards_catalog", args=[tenant_a.workspace.slug]))
    assert b"The catalog is empty" in page.content and b"Add item" not in page.content
    assert client.post(reverse("rewards_catalog_create", args=[tenant_a.workspace.slug]), {"name": "x"}).status_code == 403


def test_manager_approves_from_the_queue_rejects_with_a_reason_and_fulfils_with_a_note(client, tenant_a):
    a = tenant_a.advocate
    credit(a, 300)
    item = make_item(a.workspace)
    r1, r2 = redeem(a, item), redeem(a, item)
    client.force_login(tenant_a.manager)
    slug = tenant_a.workspace.slug
    queue = client.get(reverse("rewards_redemptions", args=[slug]))
    assert queue.content.decode().count("Approve<span") == 2
    action = lambda r, name: reverse("rewards_redemption_action", args=[slug, r.pk, name])  # noqa: E731
    assert client.post(action(r1, "approve"), {"next": "queue"}).status_code == 302
    confirm = client.get(action(r2, "reject"))
    assert b"Reject and refund" in confirm.content
    no_reason = client.post(action(r2, "reject"), {"reason": ""})
    assert no_reason.status_code == 400 and b"Give a reason" in no_reason.content
    assert client.post(action(r2, "reject"), {"reason": "Only one per person"}).status_code == 302
    assert client.post(action(r1, "fulfil"), {"note": "Shipped: TRACK-1"}).status_code == 302
    assert (reload(r1).status, reload(r1).fulfilment_note) == (Status.FULFILLED, "Shipped: TRACK-1")
    assert (reload(r2).status, reload(r2).reason) == (Status.REJECTED, "Only one per person")
    assert reload(a).points_balance == 200
    illegal = client.post(action(r2, "approve"))
    assert illegal.status_code == 409 and b"rejected, so it cannot be approved" in illegal.content
    assert client.get(reverse("rewards_redemption_action", args=[slug, r1.pk, "explode"])).status_code == 404
    detail = client.get(reverse("rewards_redemption", args=[slug, r1.pk]))
    assert b"TRACK-1" in detail.content
    assert client.get(reverse("rewards_redemptions", args=[slug]) + "?status=rejected").content.count(b"Only one per person") == 1
    assert client.get(reverse("rewards_redemptions", args=[slug]) + "?status=%00nonsense").status_code == 200


def test_the_donations_page_totals_per_charity(client, tenant_a):
    a = tenant_a.advocate
    credit(a, 300)
    redeem(a, make_item(a.workspace, kind=ItemKind.CHARITY, charity_name="Trees Inc", cost=100))
    client.force_login(tenant_a.viewer)
    page = client.get(reverse("rewards_donations", args=[tenant_a.workspace.slug])).content.decode()
    assert "Trees Inc" in page


def test_manager_pages_of_another_workspaces_redemption_are_404(client, tenant_a, tenant_b):
    credit(tenant_b.advocate, 100)
    r_b = redeem(tenant_b.advocate, item_b := make_item(tenant_b.workspace))
    client.force_login(tenant_a.manager)
    slug = tenant_a.workspace.slug
    assert client.get(reverse("rewards_redemption", args=[slug, r_b.pk])).status_code == 404
    assert client.post(reverse("rewards_redemption_action", args=[slug, r_b.pk, "reject"]), {"reason": "x"}).status_code == 404
    assert client.get(reverse("rewards_catalog_edit", args=[slug, item_b.pk])).status_code == 404
    assert reload(r_b).status == Status.REQUESTED


@pytest.mark.parametrize("status", ["requested", "all"])
def test_the_redemptions_page_takes_the_same_queries_for_ten_and_fifty_rows(client, tenant_a, django_assert_num_queries, status):
    a = tenant_a.advocate
    credit(a, 100_000)
    client.force_login(tenant_a.manager)
    url = reverse("rewards_redemptions", args=[tenant_a.workspace.slug]) + f"?status={status}"

    def add(n):
        for _ in range(n):
            redeem(a, make_item(a.workspace, cost=10))

    add(10)
    with CaptureQueriesContext(connection) as ten:
        client.get(url)
    add(40)
    with django_assert_num_queries(len(ten.captured_queries)):
        assert client.get(url).status_code == 200


# --- portal ----------------------------------------------------------------------------------------


def test_the_portal_catalog_shows_costs_and_what_the_advocate_can_afford(client, tenant_a):
    a = tenant_a.advocate
    credit(a, 150)
    make_item(a.workspace, name="Sticker", cost=100)
    make_item(a.workspace, name="Hoodie", cost=400)
    make_item(a.workspace, name="Sold out", cost=10, stock=0)
    make_item(a.workspace, name="Retired", cost=10, active=False)
    client.force_login(tenant_a.advocate_user)
    page = client.get(reverse("portal_catalog", args=[tenant_a.workspace.slug])).content.decode()
    assert "Redeem<span class=\"sr-only\"> Sticker" in page
    assert "You need 250 more points" in page and "Out of stock" in page and "Retired" not in page


def test_the_advocate_redeems_through_a_confirmation_and_sees_status_and_refund(client, tenant_a):
    a = tenant_a.advocate
    credit(a, 200)
    item = make_item(a.workspace, name="Sticker")
    client.force_login(tenant_a.advocate_user)
    slug = tenant_a.workspace.slug
    confirm = client.get(reverse("portal_redeem", args=[slug, item.pk]))
    assert b"Redeem Sticker?" in confirm.content and reload(a).points_balance == 200
    done = client.post(reverse("portal_redeem", args=[slug, item.pk]), follow=True)
    assert "We will let you know once it is approved" in done.content.decode()
    assert "Waiting for approval" in done.content.decode()
    with scopes_disabled():
        r = Redemption.objects.get(advocate=a)
    with workspace_scope(a.workspace):
        svc.reject(redemption=r, actor=tenant_a.manager, reason="Out of season")
    mine = client.get(reverse("portal_redemptions", args=[slug])).content.decode()
    assert "Rejected: Out of season" in mine and "Refunded 100 points" in mine


def test_the_portal_does_not_redeem_another_workspaces_item(client, tenant_a, tenant_b):
    credit(tenant_a.advocate, 500)
    item_b = make_item(tenant_b.workspace)
    client.force_login(tenant_a.advocate_user)
    assert client.post(reverse("portal_redeem", args=[tenant_a.workspace.slug, item_b.pk])).status_code == 404
    assert reload(tenant_a.advocate).points_balance == 500


def test_a_resubmitted_portal_redeem_form_redeems_once(client, tenant_a):
    a = tenant_a.advocate
    credit(a, 500)
    item = make_item(a.workspace)
    client.force_login(tenant_a.advocate_user)
    url = reverse("portal_redeem", args=[tenant_a.workspace.slug, item.pk])
    key = re.search(r'name="form_key" value="(\w+)"', client.get(url).content.decode()).group(1)
    client.post(url, {"form_key": key})
    again = client.post(url, {"form_key": key}, follow=True)
    assert "already submitted" in again.content.decode()
    assert reload(a).points_balance == 400
