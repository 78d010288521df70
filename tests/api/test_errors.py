"""PRODUCT.md "Interfaces": every API error is JSON {"error": {"code", "message", "fields"?}}
with the documented status: 400 invalid input, 401 missing or bad key, 404 absent or another
workspace's, 409 conflict. Never a 500 for bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from advocacy.models import Advocate, ApiKey
from advocacy.services.workspaces import create_api_key, revoke_api_key
from tests.factories import ActivityEventFactory, AdvocateFactory

from .helpers import error_of, patch_json, post_json

pytestmark = pytest.mark.django_db

ADVOCATES = "/api/v1/advocates/"
EVENTS = "/api/v1/events/"


# --- 400: invalid input -----------------------------------------------------------------


@pytest.mark.parametrize("url", [ADVOCATES, EVENTS])
def test_malformed_json_body_is_400_malformed_json(api_a, url):
    response = api_a.post(url, data='{"email": "ada@x.com",', content_type="application/json")
    error = error_of(response, 400, "malformed_json")
    assert "JSON" in error["message"]


def test_malformed_json_on_patch_is_400_malformed_json(api_a, tenant_a):
    response = api_a.patch(f"{ADVOCATES}{tenant_a.advocate.pk}/", data="{nope", content_type="application/json")
    error_of(response, 400, "malformed_json")


def test_invalid_email_is_400_with_fields_email(api_a, no_scopes):
    response = post_json(api_a, ADVOCATES, {"email": "not-an-email", "name": "Ada"})
    error = error_of(response, 400, "validation_error")
    assert list(error["fields"]) == ["email"]
    assert all(isinstance(m, str) for m in error["fields"]["email"])
    assert not Advocate.objects.filter(name="Ada").exists()


def test_missing_email_is_400_with_fields_email(api_a):
    error = error_of(post_json(api_a, ADVOCATES, {"name": "No Email"}), 400, "validation_error")
    assert "email" in error["fields"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"max_asks_per_month": "abc"}, "max_asks_per_month"),
        ({"max_asks_per_month": 31}, "max_asks_per_month"),
        ({"max_asks_per_month": -1}, "max_asks_per_month"),
        ({"tags": "vip"}, "tags"),
        ({"tags": {"a": 1}}, "tags"),
        ({"tags": ["x" * 51]}, "tags"),
        ({"channels": ["fax"]}, "channels"),
        ({"channels": "email"}, "channels"),
        ({"type": "robot"}, "type"),
        ({"stage": "sleeping"}, "stage"),
        ({"customer_since": "yesterday"}, "customer_since"),
        ({"show_on_leaderboards": "perhaps"}, "show_on_leaderboards"),
        ({"name": ["a", "list"]}, "name"),
        ({"external_id": "e" * 101}, "external_id"),
    ],
)
def test_wrong_types_on_create_are_400_naming_the_field(api_a, no_scopes, payload, field):
    response = post_json(api_a, ADVOCATES, {"email": "typed@x.com", **payload})
    error = error_of(response, 400, "validation_error")
    assert field in error["fields"], error
    assert not Advocate.objects.filter(email="typed@x.com").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"max_asks_per_month": "abc"}, "max_asks_per_month"),
        ({"tags": "vip"}, "tags"),
        ({"channels": ["fax"]}, "channels"),
        ({"email": "nope"}, "email"),
    ],
)
def test_wrong_types_on_patch_are_400_and_change_nothing(api_a, tenant_a, no_scopes, payload, field):
    before = Advocate.objects.get(pk=tenant_a.advocate.pk)
    response = patch_json(api_a, f"{ADVOCATES}{before.pk}/", payload)
    error = error_of(response, 400, "validation_error")
    assert field in error["fields"]
    after = Advocate.objects.get(pk=before.pk)
    assert (after.email, after.channels, after.max_asks_per_month) == (before.email, before.channels, before.max_asks_per_month)


@pytest.mark.parametrize("body", ["[]", '"just a string"', "42", "null"])
def test_create_advocate_with_a_non_object_body_is_400(api_a, body):
    error_of(api_a.post(ADVOCATES, data=body, content_type="application/json"), 400)


def test_events_batch_of_1001_is_400_batch_too_large(api_a, tenant_a, no_scopes):
    batch = [{"advocate": {"email": tenant_a.advocate.email}, "kind": "email_open"}] * 1001
    error = error_of(post_json(api_a, EVENTS, batch), 400, "batch_too_large")
    assert "1,000" in error["message"]
    assert not tenant_a.advocate.events.exists()


def test_events_empty_list_is_400(api_a):
    error_of(post_json(api_a, EVENTS, []), 400, "empty_batch")


def test_form_encoded_body_is_415_json(api_a):
    response = api_a.post(ADVOCATES, data="email=ada%40x.com", content_type="application/x-www-form-urlencoded")
    error_of(response, 415, "unsupported_media_type")


# --- 401: missing or bad key --------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), [("get", ADVOCATES), ("post", ADVOCATES), ("get", EVENTS), ("post", EVENTS)])
def test_no_authorization_header_is_401_with_www_authenticate(tenant_a, method, url):
    response = getattr(APIClient(), method)(url)
    error_of(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer adv_this-key-does-not-exist",
        "Token x",
        "Bearer",
        "Bearer a b",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 500,
    ],
)
def test_bad_or_malformed_key_is_401_invalid_api_key(tenant_a, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(ADVOCATES)
    error_of(response, 401, "invalid_api_key")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_is_401_and_other_keys_keep_working(tenant_a, no_scopes):
    second = create_api_key(workspace=tenant_a.workspace, name="second")
    assert tenant_a.api().get(ADVOCATES).status_code == 200
    revoke_api_key(api_key=tenant_a.api_key, actor=tenant_a.owner)
    error_of(tenant_a.api().get(ADVOCATES), 401, "invalid_api_key")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {second.secret}")
    assert client.get(ADVOCATES).status_code == 200


def test_using_a_key_records_last_used_at(api_a, tenant_a, no_scopes):
    assert ApiKey.objects.get(pk=tenant_a.api_key.pk).last_used_at is None
    assert api_a.get(ADVOCATES).status_code == 200
    assert ApiKey.objects.get(pk=tenant_a.api_key.pk).last_used_at is not None


def test_bad_key_is_401_even_on_an_unknown_advocate_id(tenant_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer wrong")
    error_of(client.get(f"{ADVOCATES}{tenant_a.advocate.pk}/"), 401)


# --- 404: absent, another workspace's, unroutable ids ----------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/", "/api/v2/advocates/", "/api/whatever"])
def test_unknown_api_route_is_404_json(api_a, path):
    error = error_of(api_a.get(path), 404, "not_found")
    assert error["message"]


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_workspaces_advocate_is_404_identical_to_a_missing_id(api_a, tenant_b, no_scopes, method):
    theirs = tenant_b.advocate
    missing = Advocate.objects.order_by("-pk").first().pk + 1000

    def call(pk):
        if method == "patch":
            return patch_json(api_a, f"{ADVOCATES}{pk}/", {"name": "Hijacked"})
        return getattr(api_a, method)(f"{ADVOCATES}{pk}/")

    foreign, absent = call(theirs.pk), call(missing)
    error_of(foreign, 404, "not_found")
    error_of(absent, 404, "not_found")
    assert foreign.content == absent.content
    reloaded = Advocate.objects.get(pk=theirs.pk)
    assert reloaded.name == theirs.name
    assert reloaded.email == theirs.email and reloaded.erased_at is None


@pytest.mark.parametrize("raw_id", ["99999999999999999999", "9223372036854775808", "abc", "-1", "1.5", "0", "%00", "1e3"])
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unroutable_or_huge_advocate_ids_are_404_never_500(api_a, raw_id, method):
    url = f"{ADVOCATES}{raw_id}/"
    response = patch_json(api_a, url, {}) if method == "patch" else getattr(api_a, method)(url)
    error_of(response, 404, "not_found")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/advocates/abc/", "/api/v1/nope/", "/api/v1/advocates/99999999999999999999/"])
def test_writes_to_unknown_api_paths_are_404_json_not_a_csrf_page(tenant_a, method, path):
    client = APIClient(enforce_csrf_checks=True)  # as a real integration: no CSRF cookie
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant_a.api_secret}")
    error_of(getattr(client, method)(path, data="{}", content_type="application/json"), 404, "not_found")


@pytest.mark.parametrize(
    "query", ["occurred_at__lt=0001-01-01T00:00:00%2B01:00", "occurred_at__gte=9999-12-31T23:59:59-10:00"]
)
def test_event_filter_dates_outside_years_1_to_9999_in_utc_are_400_never_500(api_a, query):
    error_of(api_a.get(f"{EVENTS}?{query}"), 400, "validation_error")


@pytest.mark.parametrize("offset", ["%2B14:00", "-19:03", "%2B23:59"])
def test_event_filter_with_any_offset_python_reads_works(api_a, tenant_a, offset):
    """Postgres refuses offsets beyond ±15:59; the filter converts to UTC first."""
    ActivityEventFactory(advocate=tenant_a.advocate, occurred_at=datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert api_a.get(f"{EVENTS}?occurred_at__gte=2026-01-01T00:00:00{offset}").status_code == 200
    # 2026-01-01T00:00-19:03 is 19:03 UTC: after the event
    assert api_a.get(f"{EVENTS}?occurred_at__lt=2026-01-01T00:00:00-19:03").json()["count"] == 1
    assert api_a.get(f"{EVENTS}?occurred_at__gte=2026-01-01T00:00:00-19:03").json()["count"] == 0


def test_advocate_updated_since_outside_years_1_to_9999_is_400_and_odd_offsets_work(api_a):
    error_of(api_a.get(f"{ADVOCATES}?updated_since=0001-01-01T00:00:00%2B01:00"), 400, "validation_error")
    assert api_a.get(f"{ADVOCATES}?updated_since=2026-01-01T00:00:00-19:03").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "advocate=abc", "advocate=99999999999999999999", "occurred_at__gte=notadate", "kind=nope",
    ],
)
def test_bad_event_filters_are_400_never_500(api_a, query):
    response = api_a.get(f"{EVENTS}?{query}")
    error_of(response, 400)


@pytest.mark.parametrize(
    "query",
    ["stage=nope", "type=robot", "sort=shoe_size", "updated_since=yesterday", "q=" + "x" * 201],
)
def test_bad_advocate_filters_are_400_never_500(api_a, query):
    error_of(api_a.get(f"{ADVOCATES}?{query}"), 400)


@pytest.mark.parametrize("page_size", ["abc", "-5", "0"])
def test_invalid_page_size_falls_back_to_the_default_page(api_a, page_size):
    response = api_a.get(f"{ADVOCATES}?page_size={page_size}")
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("page", ["999", "abc", "0", "-1"])
def test_page_past_the_end_or_invalid_is_404_json(api_a, page):
    error_of(api_a.get(f"{ADVOCATES}?page={page}"), 404, "not_found")


# --- 405 and 409 ---------------------------------------------------------------------------


def test_unsupported_method_is_405_json(api_a, tenant_a):
    error_of(api_a.delete(ADVOCATES), 405, "method_not_allowed")
    error_of(api_a.get(f"{EVENTS}{tenant_a.advocate.pk}/"), 404)


def test_conflict_is_409_with_machine_code_and_fields(api_a, tenant_a):
    response = post_json(api_a, ADVOCATES, {"email": tenant_a.advocate.email})
    error = error_of(response, 409, "duplicate_email")
    assert error["fields"] == {"email": ["Already in use."]}


def test_erased_advocate_cannot_be_changed_409(api_a, tenant_a):
    url = f"{ADVOCATES}{tenant_a.advocate.pk}/"
    assert api_a.delete(url).status_code == 204
    error_of(patch_json(api_a, url, {"name": "Back again"}), 409, "erased")


def test_other_tenants_key_cannot_see_new_advocate(api_a, tenant_b):
    created = post_json(api_a, ADVOCATES, {"email": "private@x.com"}).json()
    error_of(tenant_b.api().get(f"{ADVOCATES}{created['id']}/"), 404, "not_found")
    assert tenant_b.api().get(f"{ADVOCATES}?email=private@x.com").json()["count"] == 0


def test_factory_advocate_in_b_is_invisible_in_a_list(api_a, tenant_b):
    AdvocateFactory(workspace=tenant_b.workspace, email="only-b@x.com")
    assert api_a.get(f"{ADVOCATES}?q=only-b").json()["count"] == 0


# --- 429 ------------------------------------------------------------------------------------


def test_rate_limit_is_429_json_per_key(api_a, tenant_b, monkeypatch):
    from advocacy.api.auth import ApiKeyRateThrottle

    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "2/min", raising=False)
    assert api_a.get(ADVOCATES).status_code == 200
    assert api_a.get(ADVOCATES).status_code == 200
    response = api_a.get(ADVOCATES)
    error = error_of(response, 429, "rate_limited")
    assert error["retry_after"] > 0
    assert int(response["Retry-After"]) > 0
    assert tenant_b.api().get(ADVOCATES).status_code == 200  # another key has its own budget


def test_empty_body_on_create_is_400_email_required(api_a):
    error = error_of(api_a.post(ADVOCATES, content_type="application/json"), 400, "validation_error")
    assert "email" in error["fields"]


def test_nul_characters_anywhere_in_a_body_are_a_400_not_a_database_error(api_a):
    batch = [{"advocate": {"email": "a\u0000@example.com"}, "kind": "email_open"}]
    response = api_a.post("/api/v1/events/", batch, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    response = api_a.post("/api/v1/advocates/", {"email": "x@example.com", "properties": {"k\u0000": 1}}, format="json")
    assert response.status_code == 400
