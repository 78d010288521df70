"""/api/v1/referrals/ and /api/v1/conversions/: leads through a code (flagged and duplicate
ones are created and shown), filters, the state actions (409 for illegal ones), conversions
idempotent on the external id and Idempotency-Key, 400 for bad input, 404 for another
workspace's codes and ids, pinned query counts."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from referrals.models import Conversion, Referral
from rewards.models import HeldReward
from tests.referrals.builders import add_pool, configure, lead, make_code

from .helpers import error_of, post_json

pytestmark = pytest.mark.django_db

REFERRALS = "/api/v1/referrals/"
CONVERSIONS = "/api/v1/conversions/"
# Authenticate the key (1), count (1), the page with codes, coupons and conversions (1).
LIST_QUERIES = 3


@pytest.fixture
def frozen():
    with time_machine.travel("2026-05-10T12:00:00Z", tick=False):
        yield


def test_posting_a_lead_with_a_code_creates_it(api_a, tenant_a):
    code = make_code(tenant_a.workspace)
    response = post_json(api_a, REFERRALS, {"code": code.code.lower(), "referee_email": "Dana@Prospect.example",
                                            "referee_name": "Dana", "referee_company": "Prospect Ltd"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["code"], body["advocate"], body["program"], body["state"]) == (code.code, code.advocate_id, code.program_id, "lead")
    assert (body["referee_email"], body["flags"], body["flagged"], body["source"]) == ("dana@prospect.example", [], False, "api")
    again = post_json(api_a, REFERRALS, {"code": code.code, "referee_email": "dana@prospect.example"})
    assert again.status_code == 200 and again.json()["id"] == body["id"]


def test_a_flagged_self_referral_is_created_and_returned_with_its_flag(api_a, tenant_a):
    code = make_code(tenant_a.workspace)
    email = code.advocate.email.replace("@", "+tag@").upper()
    response = post_json(api_a, REFERRALS, {"code": code.code, "referee_email": email})
    assert response.status_code == 201
    body = response.json()
    assert body["flagged"] and body["state"] == "lead"
    assert "self_referral" in [f["rule"] for f in body["flags"]]


def test_a_duplicate_referee_is_created_rejected_with_the_reason(api_a, tenant_a):
    lead(make_code(tenant_a.workspace), "dana@prospect.example")
    response = post_json(api_a, REFERRALS, {"code": make_code(tenant_a.workspace).code, "referee_email": "dana@prospect.example"})
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "rejected" and body["reason"].startswith("duplicate: already referred by")


@pytest.mark.parametrize("code", ["NOPE234567", "x" * 64, "ÄÖÜ", "' OR 1=1 --", "%41%42"])
def test_an_unknown_code_is_404(api_a, tenant_a, code):
    error_of(post_json(api_a, REFERRALS, {"code": code, "referee_email": "dana@prospect.example"}), 404)


def test_another_workspaces_code_is_404(api_a, tenant_b):
    code = make_code(tenant_b.workspace)
    error_of(post_json(api_a, REFERRALS, {"code": code.code, "referee_email": "dana@prospect.example"}), 404)
    assert not Referral.objects.with_scopes_disabled().exists()


def test_a_paused_programs_code_is_409(api_a, tenant_a):
    code = make_code(tenant_a.workspace, status="paused")
    error_of(post_json(api_a, REFERRALS, {"code": code.code, "referee_email": "dana@prospect.example"}), 409, "referrals_closed")


@pytest.mark.parametrize("payload", [
    {"referee_email": "not-an-email"}, {"referee_email": ""}, {"referee_name": "x" * 201}, {"referee_company": "y" * 201},
    {"referee_name": "a\u0000b"}, {"code": "x" * 65}, {"referee_email": ["a@b.example"]},
])
def test_bad_lead_input_is_400(api_a, tenant_a, payload):
    code = make_code(tenant_a.workspace)
    error_of(post_json(api_a, REFERRALS, {"code": code.code, "referee_email": "dana@prospect.example"} | payload), 400)
    assert not Referral.objects.with_scopes_disabled().exists()


def test_filters_by_state_flag_program_and_advocate(api_a, tenant_a):
    code = make_code(tenant_a.workspace)
    other = make_code(tenant_a.workspace)
    plain = lead(code, "one@prospect.example")
    flagged = lead(code, code.advocate.email)
    duplicate = lead(other, "one@prospect.example")

    def ids(query):
        response = api_a.get(f"{REFERRALS}?{query}")
        assert response.status_code == 200, response.content
        return {r["id"] for r in response.json()["results"]}

    assert ids("flagged=true") == {flagged.pk, duplicate.pk}
    assert ids("flagged=false") == {plain.pk}
    assert ids("state=rejected") == {duplicate.pk}
    assert ids(f"program={code.program_id}") == {plain.pk, flagged.pk}
    assert ids(f"advocate={other.advocate_id}") == {duplicate.pk}
    error_of(api_a.get(f"{REFERRALS}?state=bogus"), 400)


def test_list_and_detail_show_no_other_workspaces_referrals(api_a, tenant_a, tenant_b):
    mine = lead(make_code(tenant_a.workspace), "one@prospect.example")
    theirs = lead(make_code(tenant_b.workspace), "two@prospect.example")
    assert [r["id"] for r in api_a.get(REFERRALS).json()["results"]] == [mine.pk]
    error_of(api_a.get(f"{REFERRALS}{theirs.pk}/"), 404)
    error_of(api_a.post(f"{REFERRALS}{theirs.pk}/qualify/"), 404)
    error_of(post_json(api_a, f"{REFERRALS}{theirs.pk}/reject/", {"reason": "no"}), 404)
    error_of(post_json(api_a, f"{REFERRALS}{theirs.pk}/clear-flags/", {}), 404)
    error_of(post_json(api_a, REFERRALS, {"code": make_code(tenant_b.workspace).code, "referee_email": "x@y.example"}), 404)


def test_qualify_reject_and_illegal_transitions_are_409(api_a, tenant_a):
    referral = lead(make_code(tenant_a.workspace), "one@prospect.example")
    response = api_a.post(f"{REFERRALS}{referral.pk}/qualify/")
    assert response.status_code == 200 and response.json()["state"] == "qualified"
    error_of(api_a.post(f"{REFERRALS}{referral.pk}/qualify/"), 409, "invalid_transition")
    error_of(post_json(api_a, f"{REFERRALS}{referral.pk}/reject/", {}), 400)
    response = post_json(api_a, f"{REFERRALS}{referral.pk}/reject/", {"reason": "Not a fit"})
    assert response.json()["state"] == "rejected" and response.json()["reason"] == "Not a fit"
    error_of(post_json(api_a, f"{REFERRALS}{referral.pk}/reject/", {"reason": "Again"}), 409, "invalid_transition")
    error_of(post_json(api_a, f"{REFERRALS}{referral.pk}/clear-flags/", {}), 409, "not_flagged")


def test_clear_flags_rewards_a_converted_flagged_referral(api_a, tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="coupon")
    add_pool(code.program, "WELCOME")
    referral = lead(code, code.advocate.email)
    post_json(api_a, CONVERSIONS, {"external_id": "d1", "referee_email": code.advocate.email, "value": "10", "currency": "EUR"})
    assert not HeldReward.objects.with_scopes_disabled().exists()
    response = post_json(api_a, f"{REFERRALS}{referral.pk}/clear-flags/", {"note": "Known colleague"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["flagged"], body["state"], body["coupon"]) == (False, "converted", "WELCOME")
    assert body["conversion"] and body["rewarded_at"]
    assert HeldReward.objects.with_scopes_disabled().count() == 1


# --- Conversions ---------------------------------------------------------------------------


def test_a_conversion_is_attributed_and_a_repeat_is_200_with_the_first(api_a, tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="none")
    referral = lead(code, "dana@prospect.example")
    payload = {"external_id": "deal-1", "referee_email": "dana@prospect.example", "value": "1200.50", "currency": "eur"}
    first = post_json(api_a, CONVERSIONS, payload)
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["attributed"], body["referral"], body["value"], body["currency"]) == (True, referral.pk, "1200.50", "EUR")
    again = post_json(api_a, CONVERSIONS, payload | {"value": "5"})
    assert again.status_code == 200 and again.json() == body
    assert Conversion.objects.with_scopes_disabled().count() == 1
    assert HeldReward.objects.with_scopes_disabled().count() == 1
    assert api_a.get(f"{REFERRALS}{referral.pk}/").json()["state"] == "converted"


def test_a_conversion_with_an_idempotency_key_replays(api_a, tenant_a):
    payload = {"external_id": "deal-9", "referee_email": "who@prospect.example", "value": "1", "currency": "USD"}
    first = post_json(api_a, CONVERSIONS, payload, HTTP_IDEMPOTENCY_KEY="k-1")
    again = post_json(api_a, CONVERSIONS, payload, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    error_of(post_json(api_a, CONVERSIONS, payload | {"value": "2"}, HTTP_IDEMPOTENCY_KEY="k-1"), 409, "idempotency_key_reused")


def test_an_unattributed_conversion(api_a, tenant_a):
    body = post_json(api_a, CONVERSIONS, {"external_id": "x", "referee_email": "who@prospect.example", "value": "0",
                                          "currency": "GBP"}).json()
    assert (body["attributed"], body["referral"]) == (False, None)
    assert api_a.get(f"{CONVERSIONS}?attributed=false").json()["count"] == 1
    assert api_a.get(f"{CONVERSIONS}?attributed=true").json()["count"] == 0


@pytest.mark.parametrize("payload", [
    {"value": "-1"}, {"value": "abc"}, {"value": "1e40"}, {"currency": "EURO"}, {"currency": "E1"}, {"currency": "E1R"},
    {"referee_email": "nope"}, {"external_id": ""}, {"external_id": "x" * 201}, {"external_id": "a\u0000b"},
    {"occurred_at": "2999-01-01T00:00:00Z"}, {"occurred_at": "yesterday"}, {"value": None},
])
def test_bad_conversions_are_400(api_a, tenant_a, payload):
    base = {"external_id": "deal-1", "referee_email": "dana@prospect.example", "value": "10", "currency": "EUR"}
    error_of(post_json(api_a, CONVERSIONS, base | payload), 400)
    assert not Conversion.objects.with_scopes_disabled().exists()


def test_the_same_external_id_in_another_workspace_is_another_conversion(api_a, tenant_a, tenant_b):
    payload = {"external_id": "deal-1", "referee_email": "dana@prospect.example", "value": "10", "currency": "EUR"}
    assert post_json(tenant_b.api(), CONVERSIONS, payload).status_code == 201
    assert post_json(api_a, CONVERSIONS, payload).status_code == 201
    other = Conversion.objects.with_scopes_disabled().get(workspace=tenant_b.workspace)
    error_of(api_a.get(f"{CONVERSIONS}{other.pk}/"), 404)


# --- Query counts ---------------------------------------------------------------------------


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_referral_list_runs_the_same_queries_for_2_and_20_referrals(api_a, tenant_a, frozen, no_scopes):
    url = f"{REFERRALS}?page_size=100"
    api_a.get(url)
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="coupon")
    add_pool(code.program, *[f"C{i}" for i in range(20)])
    lead(code, "a0@prospect.example")
    lead(code, "a1@prospect.example")
    two = count_queries(api_a, url)
    for i in range(2, 20):
        lead(make_code(tenant_a.workspace, program=code.program), f"a{i}@prospect.example")
        post_json(api_a, CONVERSIONS, {"external_id": f"d{i}", "referee_email": f"a{i}@prospect.example", "value": "1", "currency": "EUR"})
    twenty = count_queries(api_a, url)
    body = api_a.get(url).json()
    assert body["count"] == 20 and sum(1 for r in body["results"] if r["coupon"]) == 18
    assert two == twenty == LIST_QUERIES
    assert count_queries(api_a, f"{url}&flagged=false&state=converted") == LIST_QUERIES


def test_conversion_list_runs_the_same_queries_for_1_and_20(api_a, tenant_a, frozen, no_scopes):
    url = f"{CONVERSIONS}?page_size=100"
    api_a.get(url)
    post_json(api_a, CONVERSIONS, {"external_id": "d0", "referee_email": "a@prospect.example", "value": "1", "currency": "EUR"})
    one = count_queries(api_a, url)
    for i in range(1, 20):
        post_json(api_a, CONVERSIONS, {"external_id": f"d{i}", "referee_email": "a@prospect.example", "value": "1", "currency": "EUR"})
    assert one == count_queries(api_a, url) == LIST_QUERIES


def test_referral_and_conversion_details_run_two_queries(api_a, tenant_a, frozen, no_scopes):
    referral = lead(make_code(tenant_a.workspace), "a@prospect.example")
    api_a.get(REFERRALS)
    # Authenticate the key (1), the row with its code, coupon and conversion (1).
    assert count_queries(api_a, f"{REFERRALS}{referral.pk}/") == 2
    conversion = post_json(api_a, CONVERSIONS, {"external_id": "d", "referee_email": "a@prospect.example", "value": "1", "currency": "EUR"}).json()
    assert count_queries(api_a, f"{CONVERSIONS}{conversion['id']}/") == 2


def test_the_schema_says_flagged_and_duplicate_referrals_are_still_created(api_a):
    paths = api_a.get("/api/schema/?format=json").json()["paths"]
    create = paths["/api/v1/referrals/"]["post"]
    assert "still created" in create["description"] and "rejected" in create["description"]
    assert {"200", "201", "404", "409"} <= set(create["responses"])
    assert {p["name"] for p in create["parameters"]} >= {"Idempotency-Key"}
    assert {"200", "201"} <= set(paths["/api/v1/conversions/"]["post"]["responses"])
    assert "post" in paths["/api/v1/referrals/{id}/clear-flags/"]
