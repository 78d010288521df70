"""/api/v1/events/: one event or an all-or-nothing batch of up to 1,000, matched to advocates by
email or external_id within the key's workspace. PRODUCT.md "Activity events"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from advocacy.models import ActivityEvent, Advocate
from tests.factories import ActivityEventFactory, AdvocateFactory

from .helpers import error_of, post_json

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"
NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def ada(tenant_a):
    return AdvocateFactory(workspace=tenant_a.workspace, email="ada@x.com", external_id="crm-ada")


def stored(advocate=None) -> list[ActivityEvent]:
    events = ActivityEvent.objects.all() if advocate is None else ActivityEvent.objects.filter(advocate=advocate)
    return list(events.order_by("id"))


# --- recording ------------------------------------------------------------------------------


def test_one_event_object_is_recorded(api_a, ada, no_scopes):
    payload = {
        "advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-05-01T12:00:00Z",
        "value": "120.50", "properties": {"sku": "pro"},
    }
    response = post_json(api_a, URL, payload)
    assert response.status_code == 201, response.content
    body = response.json()
    [event] = stored()
    assert body == {"created": 1, "ids": [event.pk]}
    assert (event.advocate_id, event.workspace_id, event.kind) == (ada.pk, ada.workspace_id, "purchase")
    assert event.occurred_at == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert event.value == Decimal("120.50")
    assert event.properties == {"sku": "pro"}


def test_batch_by_email_and_external_id(api_a, tenant_a, ada, no_scopes):
    batch = [
        {"advocate": {"email": "ADA@X.com"}, "kind": "email_open"},
        {"advocate": {"external_id": "crm-ada"}, "kind": "email_click"},
        {"advocate": {"email": tenant_a.advocate.email}, "kind": "review_posted"},
        {"advocate": "ada@x.com", "kind": "renewal"},
        {"advocate": "crm-ada", "kind": "community_post"},
        {"email": "ada@x.com", "kind": "event_attended"},
        {"external_id": "crm-ada", "kind": "support_ticket"},
    ]
    response = post_json(api_a, URL, batch)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] == 7 and len(body["ids"]) == 7
    events = stored()
    assert [e.pk for e in events] == body["ids"]
    assert [e.kind for e in events] == [i["kind"] for i in batch]
    assert [e.advocate_id for e in events] == [ada.pk, ada.pk, tenant_a.advocate.pk, ada.pk, ada.pk, ada.pk, ada.pk]


def test_numeric_external_id_matches(api_a, tenant_a, no_scopes):
    person = AdvocateFactory(workspace=tenant_a.workspace, external_id="12345")
    assert post_json(api_a, URL, {"advocate": {"external_id": 12345}, "kind": "purchase"}).status_code == 201
    assert len(stored(person)) == 1


def test_a_batch_of_exactly_1000_is_accepted(api_a, ada, no_scopes):
    batch = [{"advocate": {"email": "ada@x.com"}, "kind": "email_open"}] * 1000
    response = post_json(api_a, URL, batch)
    assert response.status_code == 201
    assert response.json()["created"] == 1000
    assert ActivityEvent.objects.filter(advocate=ada).count() == 1000


def test_occurred_at_defaults_to_now(api_a, ada, no_scopes):
    with time_machine.travel(NOW, tick=False):
        assert post_json(api_a, URL, [
            {"advocate": {"email": "ada@x.com"}, "kind": "email_open"},
            {"advocate": {"email": "ada@x.com"}, "kind": "email_open", "occurred_at": None},
            {"advocate": {"email": "ada@x.com"}, "kind": "email_open", "occurred_at": ""},
        ]).status_code == 201
    assert {e.occurred_at for e in stored()} == {NOW}
    assert {e.created_at for e in stored()} == {NOW}


def test_naive_occurred_at_is_read_as_utc(api_a, ada, no_scopes):
    post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-01-02T03:04:05"})
    assert stored()[0].occurred_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_occurred_at_with_offset_is_kept_as_the_same_instant(api_a, ada, no_scopes):
    post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-01-02T05:04:05+02:00"})
    assert stored()[0].occurred_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(("value", "expected"), [(12.5, Decimal("12.50")), ("7", Decimal("7.00")), (-3, Decimal("-3.00")), (None, None), ("", None)])
def test_value_is_stored_as_a_two_decimal_amount(api_a, ada, no_scopes, value, expected):
    assert post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "value": value}).status_code == 201
    assert stored()[0].value == expected


# --- per-item errors: nothing stored --------------------------------------------------------


def _items(response) -> dict[int, dict]:
    error = error_of(response, 400)
    assert isinstance(error["items"], list) and error["items"]
    for item in error["items"]:
        assert set(item) == {"index", "fields"}
        assert isinstance(item["fields"], dict) and item["fields"]
    return {item["index"]: item["fields"] for item in error["items"]}


def test_invalid_items_are_reported_by_index_and_nothing_is_stored(api_a, ada, no_scopes):
    good = {"advocate": {"email": "ada@x.com"}, "kind": "purchase"}
    batch = [
        good,
        {"advocate": {"email": "ada@x.com"}, "kind": "teleport"},
        good,
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "last tuesday"},
        {"kind": "purchase"},
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "value": "lots"},
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "properties": ["not", "a", "dict"]},
        "not an object",
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "colour": "blue"},
    ]
    response = post_json(api_a, URL, batch)
    items = _items(response)
    assert sorted(items) == [1, 3, 4, 5, 6, 7, 8]
    assert "kind" in items[1]
    assert "occurred_at" in items[3]
    assert "advocate" in items[4]
    assert "value" in items[5]
    assert "properties" in items[6]
    assert "non_field_errors" in items[7]
    assert "non_field_errors" in items[8]
    assert "7 of 9" in response.json()["error"]["message"]
    assert stored() == []
    assert Advocate.objects.get(pk=ada.pk).last_activity_at is None


def test_one_item_with_several_problems_lists_each_field(api_a):
    items = _items(post_json(api_a, URL, [{"advocate": {"email": 5}, "kind": "x", "value": True, "occurred_at": 17}]))
    assert set(items[0]) == {"advocate", "kind", "value", "occurred_at"}


def test_unknown_advocate_is_a_per_item_error(api_a, ada, no_scopes):
    batch = [
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase"},
        {"advocate": {"email": "ghost@x.com"}, "kind": "purchase"},
        {"advocate": {"external_id": "crm-ghost"}, "kind": "purchase"},
    ]
    items = _items(post_json(api_a, URL, batch))
    assert sorted(items) == [1, 2]
    assert "ghost@x.com" in items[1]["advocate"][0]
    assert "crm-ghost" in items[2]["advocate"][0]
    assert stored() == []


def test_a_single_invalid_object_is_reported_at_index_0(api_a):
    items = _items(post_json(api_a, URL, {"advocate": {"email": "nobody@x.com"}, "kind": "purchase"}))
    assert list(items) == [0]


def test_event_in_the_future_is_refused(api_a, ada, no_scopes):
    with time_machine.travel(NOW, tick=False):
        tomorrow_plus = (NOW + timedelta(days=1, minutes=1)).isoformat()
        almost = (NOW + timedelta(hours=23)).isoformat()
        items = _items(post_json(api_a, URL, [
            {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": almost},
            {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": tomorrow_plus},
        ]))
    assert list(items) == [1] and "occurred_at" in items[1]


@pytest.mark.parametrize("value", ["1e400", "NaN", "Infinity", "1000000000000", "-1000000000000"])
def test_value_out_of_range_or_not_finite_is_refused(api_a, ada, value, no_scopes):
    items = _items(post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "value": value}))
    assert "value" in items[0]
    assert stored() == []


def test_oversized_properties_are_refused(api_a, ada):
    items = _items(post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "properties": {"blob": "x" * 9000}}))
    assert "properties" in items[0]


def test_advocate_of_workspace_b_cannot_be_referenced_from_a(api_a, tenant_a, tenant_b, no_scopes):
    theirs = AdvocateFactory(workspace=tenant_b.workspace, email="b-person@x.com", external_id="crm-b")
    batch = [
        {"advocate": {"email": tenant_a.advocate.email}, "kind": "purchase"},
        {"advocate": {"email": "b-person@x.com"}, "kind": "purchase"},
        {"advocate": {"external_id": "crm-b"}, "kind": "purchase"},
        {"advocate": {"email": tenant_b.advocate.email}, "kind": "purchase"},
    ]
    items = _items(post_json(api_a, URL, batch))
    assert sorted(items) == [1, 2, 3]
    assert stored() == []
    assert Advocate.objects.get(pk=theirs.pk).last_activity_at is None


def test_same_email_in_both_workspaces_resolves_to_the_keys_workspace(api_a, tenant_a, tenant_b, no_scopes):
    mine = AdvocateFactory(workspace=tenant_a.workspace, email="twin@x.com")
    theirs = AdvocateFactory(workspace=tenant_b.workspace, email="twin@x.com")
    assert post_json(api_a, URL, {"advocate": {"email": "twin@x.com"}, "kind": "purchase"}).status_code == 201
    assert len(stored(mine)) == 1 and stored(theirs) == []


# --- last_activity_at ------------------------------------------------------------------------


def test_last_activity_at_becomes_the_newest_event(api_a, ada, tenant_a, no_scopes):
    batch = [
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-03-01T00:00:00Z"},
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-04-01T00:00:00Z"},
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-02-01T00:00:00Z"},
        {"advocate": {"email": tenant_a.advocate.email}, "kind": "purchase", "occurred_at": "2026-01-15T00:00:00Z"},
    ]
    with time_machine.travel(NOW, tick=False):
        assert post_json(api_a, URL, batch).status_code == 201
    assert Advocate.objects.get(pk=ada.pk).last_activity_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert Advocate.objects.get(pk=tenant_a.advocate.pk).last_activity_at == datetime(2026, 1, 15, tzinfo=UTC)


def test_last_activity_at_never_moves_backwards(api_a, ada, no_scopes):
    with time_machine.travel(NOW, tick=False):
        post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-04-01T00:00:00Z"})
        post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2025-01-01T00:00:00Z"})
    assert Advocate.objects.get(pk=ada.pk).last_activity_at == datetime(2026, 4, 1, tzinfo=UTC)
    with time_machine.travel(NOW, tick=False):
        post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-04-02T00:00:00Z"})
    assert Advocate.objects.get(pk=ada.pk).last_activity_at == datetime(2026, 4, 2, tzinfo=UTC)


def test_last_activity_at_is_exposed_in_the_advocate_api(api_a, ada):
    with time_machine.travel(NOW, tick=False):
        post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase"})
    body = api_a.get(f"/api/v1/advocates/{ada.pk}/").json()
    assert body["last_activity_at"].startswith("2026-05-10T12:00:00")


# --- reading events ---------------------------------------------------------------------------


def test_events_list_filters_by_advocate_newest_first(api_a, ada, tenant_a):
    batch = [
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-03-01T00:00:00Z", "value": 5},
        {"advocate": {"email": "ada@x.com"}, "kind": "email_open", "occurred_at": "2026-04-01T00:00:00Z"},
        {"advocate": {"email": tenant_a.advocate.email}, "kind": "renewal", "occurred_at": "2026-04-01T00:00:00Z"},
    ]
    with time_machine.travel(NOW, tick=False):
        ids = post_json(api_a, URL, batch).json()["ids"]
    response = api_a.get(f"{URL}?advocate={ada.pk}")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [e["id"] for e in results] == [ids[1], ids[0]]
    assert results[0] == {
        "id": ids[1], "advocate": ada.pk, "kind": "email_open", "occurred_at": results[0]["occurred_at"],
        "value": None, "properties": {}, "created_at": results[0]["created_at"],
    }
    assert results[0]["occurred_at"].startswith("2026-04-01T00:00:00")
    assert results[1]["value"] == "5.00"


def test_events_list_filters_by_kind_and_time(api_a, ada):
    post_json(api_a, URL, [
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-03-01T00:00:00Z"},
        {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-04-01T00:00:00Z"},
        {"advocate": {"email": "ada@x.com"}, "kind": "email_open", "occurred_at": "2026-04-01T00:00:00Z"},
    ])
    assert api_a.get(f"{URL}?kind=purchase").json()["count"] == 2
    assert api_a.get(f"{URL}?kind=purchase&occurred_at__gte=2026-03-15T00:00:00Z").json()["count"] == 1
    assert api_a.get(f"{URL}?occurred_at__lt=2026-03-15T00:00:00Z").json()["count"] == 1


def test_events_list_never_shows_another_workspaces_events(api_a, tenant_b):
    ActivityEventFactory(advocate=tenant_b.advocate)
    assert api_a.get(URL).json()["count"] == 0
    assert tenant_b.api().get(URL).json()["count"] == 1


def test_filtering_by_another_workspaces_advocate_answers_like_a_missing_one(api_a, tenant_b, no_scopes):
    ActivityEventFactory(advocate=tenant_b.advocate)
    missing = Advocate.objects.order_by("-pk").first().pk + 1000
    foreign = api_a.get(f"{URL}?advocate={tenant_b.advocate.pk}")
    absent = api_a.get(f"{URL}?advocate={missing}")
    assert foreign.status_code == absent.status_code
    assert foreign.content.decode().replace(str(tenant_b.advocate.pk), "ID") == absent.content.decode().replace(str(missing), "ID")
    if foreign.status_code == 200:
        assert foreign.json()["results"] == []


def test_events_appear_on_the_manager_advocate_timeline(client, api_a, tenant_a, ada):
    with time_machine.travel(NOW, tick=False):
        post_json(api_a, URL, [
            {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "value": "120", "occurred_at": "2026-05-01T09:30:00Z",
             "properties": {"plan": "enterprise"}},
            {"advocate": {"external_id": "crm-ada"}, "kind": "review_posted", "occurred_at": "2026-05-02T09:30:00Z"},
        ])
    client.force_login(tenant_a.manager)
    response = client.get(f"/w/{tenant_a.workspace.slug}/advocates/{ada.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Purchase" in html and "value 120.00" in html and "plan: enterprise" in html
    assert "Review posted" in html
    assert html.index("Review posted") < html.index("Purchase")  # newest first


def test_events_of_b_do_not_appear_on_a_timeline(client, tenant_a, tenant_b):
    ActivityEventFactory(advocate=tenant_b.advocate, kind="case_study")
    client.force_login(tenant_a.manager)
    html = client.get(f"/w/{tenant_a.workspace.slug}/advocates/{tenant_a.advocate.pk}/").content.decode()
    assert "Case study" not in html


@pytest.mark.parametrize(
    "occurred_at",
    ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "1969-12-31T23:59:59Z", "2026-01-01T25:00:00Z", "0001-01-01T00:00:00+01:00", "2026-01-01T00:00:00+25:00", "9999-12-31T23:59:59-10:00", 1714560000, ["2026-01-01"]],
)
def test_impossible_occurred_at_is_a_per_item_error_never_500(api_a, ada, no_scopes, occurred_at):
    items = _items(post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": occurred_at}))
    assert "occurred_at" in items[0]
    assert stored() == []


def test_occurred_at_with_an_offset_postgres_refuses_is_stored_as_utc(api_a, ada, no_scopes):
    """Python accepts offsets up to ±23:59, Postgres only ±15:59: the instant is kept, in UTC."""
    with time_machine.travel(NOW, tick=False):
        response = post_json(api_a, URL, {"advocate": {"email": "ada@x.com"}, "kind": "purchase", "occurred_at": "2026-01-01T00:00:00-19:03"})
    assert response.status_code == 201, response.content
    assert stored()[0].occurred_at == datetime(2026, 1, 1, 19, 3, tzinfo=UTC)
    assert api_a.get(URL).status_code == 200
