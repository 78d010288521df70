"""/api/v1/ledger/: entries per advocate, filters and pinned query counts; manual
adjustments through adjust_points with Idempotency-Key; another workspace's ids are 404."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advocacy.models import Advocate, AuditLog
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards.models import EntryKind, LedgerEntry
from rewards.services import credit_points
from tests.api.helpers import error_of, post_json
from tests.factories import AdvocateFactory

pytestmark = pytest.mark.django_db

LEDGER = "/api/v1/ledger/"
# Authenticate the key (1), count (1), page (1).
LEDGER_LIST_QUERIES = 3


def credit(advocate, amount, key, kind=EntryKind.EARN_BONUS):
    with workspace_scope(advocate.workspace):
        return credit_points(advocate=advocate, amount=amount, kind=kind, reason=f"for {key}", idempotency_key=key)


def balance(advocate) -> int:
    with scopes_disabled():
        return Advocate.objects.get(pk=advocate.pk).points_balance


def entries(advocate) -> int:
    with scopes_disabled():
        return LedgerEntry.objects.filter(advocate=advocate).count()


def test_list_shows_the_workspaces_entries_newest_first(api_a, tenant_a, tenant_b):
    with time_machine.travel("2026-03-01T10:00:00Z", tick=False):
        old = credit(tenant_a.advocate, 100, "old")
    with time_machine.travel("2026-04-01T10:00:00Z", tick=False):
        new = credit(tenant_a.advocate, 50, "new")
    credit(tenant_b.advocate, 70, "b")
    body = api_a.get(LEDGER).json()
    assert body["count"] == 2
    assert [e["id"] for e in body["results"]] == [new.pk, old.pk]
    first = body["results"][0]
    assert first == {**first, "advocate": tenant_a.advocate.pk, "kind": "earn_bonus", "amount": 50, "balance_after": 150,
                     "reason": "for new", "actor": "system"}


def test_list_filters_by_advocate_kind_and_created_at(api_a, tenant_a):
    other = AdvocateFactory(workspace=tenant_a.workspace)
    with time_machine.travel("2026-03-01T10:00:00Z", tick=False):
        credit(tenant_a.advocate, 100, "march")
    with time_machine.travel("2026-04-01T10:00:00Z", tick=False):
        april = credit(tenant_a.advocate, 50, "april", kind=EntryKind.EARN_ASK)
        credit(other, 10, "other")
    by_advocate = api_a.get(LEDGER, {"advocate": tenant_a.advocate.pk}).json()
    assert by_advocate["count"] == 2
    assert api_a.get(LEDGER, {"kind": "earn_ask"}).json()["results"][0]["id"] == april.pk
    assert api_a.get(LEDGER, {"kind": "earn_ask"}).json()["count"] == 1
    in_april = api_a.get(LEDGER, {"created_at__gte": "2026-03-15T00:00:00Z", "created_at__lt": "2026-05-01T00:00:00Z"}).json()
    assert in_april["count"] == 2
    assert api_a.get(LEDGER, {"created_at__lt": "2026-03-15T00:00:00Z"}).json()["count"] == 1


def test_filtering_by_another_workspaces_advocate_is_refused(api_a, tenant_b):
    credit(tenant_b.advocate, 10, "b")
    error_of(api_a.get(LEDGER, {"advocate": tenant_b.advocate.pk}), 400)


def test_list_runs_the_same_queries_for_10_and_100_entries(api_a, tenant_a):
    with time_machine.travel("2026-05-10T12:00:00Z", tick=False):
        api_a.get(LEDGER)  # warm-up: records the key's last use
        for i in range(10):
            credit(tenant_a.advocate, 1, f"a{i}")
        with CaptureQueriesContext(connection) as ten:
            assert api_a.get(LEDGER, {"page_size": 200}).json()["count"] == 10
        for i in range(90):
            credit(tenant_a.advocate, 1, f"b{i}")
        with CaptureQueriesContext(connection) as hundred:
            assert len(api_a.get(LEDGER, {"page_size": 200}).json()["results"]) == 100
    assert len(ten.captured_queries) == len(hundred.captured_queries) == LEDGER_LIST_QUERIES


def test_retrieve_one_entry_and_another_workspaces_entry_is_404(api_a, tenant_a, tenant_b):
    mine = credit(tenant_a.advocate, 10, "mine")
    theirs = credit(tenant_b.advocate, 10, "theirs")
    assert api_a.get(f"{LEDGER}{mine.pk}/").json()["amount"] == 10
    error_of(api_a.get(f"{LEDGER}{theirs.pk}/"), 404)
    error_of(api_a.get(f"{LEDGER}999999999/"), 404)


def test_entries_cannot_be_changed_or_deleted_through_the_api(api_a, tenant_a):
    entry = credit(tenant_a.advocate, 10, "k")
    assert api_a.delete(f"{LEDGER}{entry.pk}/").status_code == 405
    assert api_a.patch(f"{LEDGER}{entry.pk}/", {"amount": 5}, format="json").status_code == 405


# --- adjustments --------------------------------------------------------------------------------


def test_adjustment_credits_with_the_reason_and_is_audited(api_a, tenant_a, no_scopes):
    response = post_json(api_a, LEDGER, {"advocate": tenant_a.advocate.pk, "amount": 250, "reason": "Conference talk"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["amount"], body["balance_after"], body["reason"]) == ("adjust", 250, 250, "Conference talk")
    assert body["actor"] == str(tenant_a.api_key)
    assert balance(tenant_a.advocate) == 250
    assert AuditLog.objects.filter(workspace=tenant_a.workspace, action="points.adjusted", advocate=tenant_a.advocate).count() == 1


def test_a_negative_adjustment_debits(api_a, tenant_a):
    credit(tenant_a.advocate, 100, "k")
    response = post_json(api_a, LEDGER, {"advocate": tenant_a.advocate.pk, "amount": -40, "reason": "Duplicate credit"})
    assert response.status_code == 201
    assert response.json()["balance_after"] == 60 and balance(tenant_a.advocate) == 60


def test_an_adjustment_below_zero_is_409_not_enough_points_and_changes_nothing(api_a, tenant_a):
    credit(tenant_a.advocate, 30, "k")
    error = error_of(post_json(api_a, LEDGER, {"advocate": tenant_a.advocate.pk, "amount": -31, "reason": "x"}), 409, "not_enough_points")
    assert "balance is 30" in error["message"]
    assert balance(tenant_a.advocate) == 30 and entries(tenant_a.advocate) == 1


@pytest.mark.parametrize("payload", [
    {"amount": 0, "reason": "zero"},
    {"amount": 10, "reason": ""},
    {"amount": 10, "reason": "   "},
    {"amount": 10},
    {"amount": 10_000_001, "reason": "too much"},
    {"amount": "ten", "reason": "x"},
])
def test_invalid_adjustments_are_400(api_a, tenant_a, payload):
    error_of(post_json(api_a, LEDGER, {"advocate": tenant_a.advocate.pk, **payload}), 400, "validation_error")
    assert entries(tenant_a.advocate) == 0


def test_adjusting_another_workspaces_advocate_is_404(api_a, tenant_b):
    error_of(post_json(api_a, LEDGER, {"advocate": tenant_b.advocate.pk, "amount": 10, "reason": "x"}), 404)
    error_of(post_json(api_a, LEDGER, {"advocate": 999_999_999, "amount": 10, "reason": "x"}), 404)
    assert balance(tenant_b.advocate) == 0 and entries(tenant_b.advocate) == 0


def test_same_idempotency_key_replays_the_adjustment_once(api_a, tenant_a):
    payload = {"advocate": tenant_a.advocate.pk, "amount": 100, "reason": "Goodwill"}
    first = post_json(api_a, LEDGER, payload, HTTP_IDEMPOTENCY_KEY="adj-1")
    again = post_json(api_a, LEDGER, payload, HTTP_IDEMPOTENCY_KEY="adj-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert balance(tenant_a.advocate) == 100 and entries(tenant_a.advocate) == 1


def test_same_idempotency_key_with_another_body_is_409(api_a, tenant_a):
    payload = {"advocate": tenant_a.advocate.pk, "amount": 100, "reason": "Goodwill"}
    post_json(api_a, LEDGER, payload, HTTP_IDEMPOTENCY_KEY="adj-2")
    error_of(post_json(api_a, LEDGER, {**payload, "amount": 200}, HTTP_IDEMPOTENCY_KEY="adj-2"), 409, "idempotency_key_reused")
    assert balance(tenant_a.advocate) == 100


def test_a_refused_adjustment_can_be_retried_with_its_key(api_a, tenant_a):
    payload = {"advocate": tenant_a.advocate.pk, "amount": -50, "reason": "Correction"}
    error_of(post_json(api_a, LEDGER, payload, HTTP_IDEMPOTENCY_KEY="adj-3"), 409, "not_enough_points")
    credit(tenant_a.advocate, 80, "k")
    assert post_json(api_a, LEDGER, payload, HTTP_IDEMPOTENCY_KEY="adj-3").status_code == 201
    assert balance(tenant_a.advocate) == 30


def test_without_a_key_each_post_is_its_own_adjustment(api_a, tenant_a):
    payload = {"advocate": tenant_a.advocate.pk, "amount": 5, "reason": "Thanks"}
    assert post_json(api_a, LEDGER, payload).status_code == 201
    assert post_json(api_a, LEDGER, payload).status_code == 201
    assert balance(tenant_a.advocate) == 10 and entries(tenant_a.advocate) == 2


def test_the_schema_documents_the_ledger_operations(api_a):
    paths = api_a.get("/api/schema/?format=json").json()["paths"]
    assert set(paths["/api/v1/ledger/"]) == {"get", "post"}
    assert set(paths["/api/v1/ledger/{id}/"]) == {"get"}
    params = {p["name"] for p in paths["/api/v1/ledger/"]["post"]["parameters"]}
    assert "Idempotency-Key" in params
    assert {"201", "404", "409"} <= set(paths["/api/v1/ledger/"]["post"]["responses"])
