"""Idempotency-Key on POST /api/v1/advocates/ and /api/v1/events/ (advocacy/api/base.py
``idempotent``): the same key and body replay the first answer; the same key with another
body is 409; keys are per workspace; failures are not remembered. PRODUCT.md "Interfaces"."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from advocacy.models import ActivityEvent, Advocate, IdempotencyRecord
from advocacy.tasks import purge_idempotency_keys

from .helpers import error_of, post_json

ADVOCATES = "/api/v1/advocates/"
EVENTS = "/api/v1/events/"


def post(client, url, payload, key):
    return post_json(client, url, payload, HTTP_IDEMPOTENCY_KEY=key)


# --- replay -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_answer_and_creates_nothing_more(api_a, no_scopes):
    payload = {"email": "idem@x.com", "name": "Idem", "tags": ["vip"]}
    first = post(api_a, ADVOCATES, payload, "key-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    second = post(api_a, ADVOCATES, payload, "key-1")
    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Advocate.objects.filter(email="idem@x.com").count() == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_events_batch_replay_stores_the_events_once(api_a, tenant_a, no_scopes):
    batch = [{"advocate": {"email": tenant_a.advocate.email}, "kind": "purchase", "value": 10}] * 3
    first = post(api_a, EVENTS, batch, "batch-1")
    replays = [post(api_a, EVENTS, batch, "batch-1") for _ in range(3)]
    assert first.status_code == 201
    for replay in replays:
        assert (replay.status_code, replay.json(), replay["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert ActivityEvent.objects.count() == 3


@pytest.mark.django_db
def test_replay_answers_the_original_body_even_after_the_record_changed(api_a, no_scopes):
    payload = {"email": "orig@x.com", "name": "Original"}
    first = post(api_a, ADVOCATES, payload, "k")
    api_a.patch(f"{ADVOCATES}{first.json()['id']}/", {"name": "Renamed"}, format="json")
    assert post(api_a, ADVOCATES, payload, "k").json()["name"] == "Original"


@pytest.mark.django_db
def test_key_order_and_whitespace_of_the_json_body_do_not_matter(api_a, no_scopes):
    first = api_a.post(ADVOCATES, data='{"email": "o@x.com", "name": "O"}', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    again = api_a.post(ADVOCATES, data='{"name":"O","email":"o@x.com"}', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Advocate.objects.filter(email="o@x.com").count() == 1


@pytest.mark.django_db
def test_surrounding_whitespace_of_the_key_is_ignored(api_a, no_scopes):
    post(api_a, ADVOCATES, {"email": "ws@x.com"}, "abc")
    assert post(api_a, ADVOCATES, {"email": "ws@x.com"}, "  abc  ")["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_without_a_key_every_post_is_new(api_a, tenant_a, no_scopes):
    event = {"advocate": {"email": tenant_a.advocate.email}, "kind": "email_open"}
    assert post_json(api_a, EVENTS, event).status_code == 201
    assert post_json(api_a, EVENTS, event).status_code == 201
    assert ActivityEvent.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 0


# --- conflicts and per-workspace keys --------------------------------------------------------------


@pytest.mark.django_db
def test_same_key_with_another_body_is_409_idempotency_key_reused(api_a, no_scopes):
    assert post(api_a, ADVOCATES, {"email": "first@x.com"}, "k").status_code == 201
    error = error_of(post(api_a, ADVOCATES, {"email": "second@x.com"}, "k"), 409, "idempotency_key_reused")
    assert "Idempotency-Key" in error["message"]
    assert not Advocate.objects.filter(email="second@x.com").exists()


@pytest.mark.django_db
def test_same_key_on_another_endpoint_is_409(api_a, tenant_a, no_scopes):
    assert post(api_a, ADVOCATES, {"email": "first@x.com"}, "k").status_code == 201
    event = {"advocate": {"email": "first@x.com"}, "kind": "purchase"}
    error_of(post(api_a, EVENTS, event, "k"), 409, "idempotency_key_reused")
    assert ActivityEvent.objects.count() == 0


@pytest.mark.django_db
def test_keys_are_per_workspace_b_may_reuse_as_key(api_a, tenant_a, tenant_b, no_scopes):
    payload = {"email": "same@x.com"}
    a = post(api_a, ADVOCATES, payload, "shared-key")
    b = post(tenant_b.api(), ADVOCATES, payload, "shared-key")
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b
    assert a.json()["id"] != b.json()["id"]
    assert Advocate.objects.get(pk=b.json()["id"]).workspace_id == tenant_b.workspace.pk
    # and B's different body under the same key is not a conflict with A
    c = post(tenant_b.api(), ADVOCATES, {"email": "other@x.com"}, "shared-key-2")
    assert c.status_code == 201


@pytest.mark.django_db
def test_b_cannot_replay_as_answer_with_as_key(api_a, tenant_b):
    created = post(api_a, ADVOCATES, {"email": "secret@x.com", "name": "Secret"}, "k").json()
    replay = post(tenant_b.api(), ADVOCATES, {"email": "secret@x.com", "name": "Secret"}, "k")
    assert replay.status_code == 201 and "Idempotent-Replayed" not in replay
    assert replay.json()["id"] != created["id"]


# --- the key itself ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_key_longer_than_255_characters_is_400(api_a, no_scopes):
    error = error_of(post(api_a, ADVOCATES, {"email": "long@x.com"}, "k" * 256), 400, "bad_idempotency_key")
    assert "255" in error["message"]
    assert not Advocate.objects.filter(email="long@x.com").exists()


@pytest.mark.django_db
def test_key_of_exactly_255_characters_is_accepted(api_a):
    assert post(api_a, ADVOCATES, {"email": "l255@x.com"}, "k" * 255).status_code == 201
    assert post(api_a, ADVOCATES, {"email": "l255@x.com"}, "k" * 255)["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "   ", "tab\there"])
def test_blank_or_unprintable_key_is_400(api_a, key):
    error_of(post(api_a, ADVOCATES, {"email": "blank@x.com"}, key), 400, "bad_idempotency_key")


# --- failures are not remembered ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_request_is_not_remembered_and_may_be_retried_with_its_key(api_a, tenant_a, no_scopes):
    bad = [{"advocate": {"email": "nobody@x.com"}, "kind": "purchase"}]
    error_of(post(api_a, EVENTS, bad, "retry-me"), 400)
    error_of(post(api_a, EVENTS, bad, "retry-me"), 400)  # not replayed, not a conflict either
    fixed = [{"advocate": {"email": tenant_a.advocate.email}, "kind": "purchase"}]
    response = post(api_a, EVENTS, fixed, "retry-me")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert ActivityEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_conflict_is_not_remembered(api_a, tenant_a, no_scopes):
    error_of(post(api_a, ADVOCATES, {"email": tenant_a.advocate.email}, "k"), 409, "duplicate_email")
    assert IdempotencyRecord.objects.count() == 0
    assert post(api_a, ADVOCATES, {"email": "fresh@x.com"}, "k").status_code == 201


@pytest.mark.django_db
def test_records_are_purged_after_24_hours_and_the_key_is_then_new(api_a, no_scopes):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert post(api_a, ADVOCATES, {"email": "old@x.com"}, "k").status_code == 201
    with time_machine.travel(start + timedelta(hours=23), tick=False):
        assert purge_idempotency_keys() == 0
    with time_machine.travel(start + timedelta(hours=25), tick=False):
        assert purge_idempotency_keys() == 1
        assert post(api_a, ADVOCATES, {"email": "new@x.com"}, "k").status_code == 201


# --- concurrency on real Postgres ----------------------------------------------------------------------


def _race(secret: str, url: str, payload, key: str | None, threads: int = 20) -> list[tuple[int, dict, bool]]:
    """``threads`` clients post the same request at the same moment; returns (status, body,
    replayed) for each."""
    barrier = threading.Barrier(threads)
    results: list[tuple[int, dict, bool] | BaseException] = [None] * threads  # type: ignore[list-item]
    body = json.dumps(payload)

    def worker(i: int) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
            extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
            barrier.wait(timeout=30)
            response = client.post(url, data=body, content_type="application/json", **extra)
            replayed = response.get("Idempotent-Replayed") == "true"
            results[i] = (response.status_code, json.loads(response.content), replayed)
        except BaseException as exc:  # reported by the assertion below
            results[i] = exc
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in pool), "a thread hung"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results  # type: ignore[return-value]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_event_batches_with_one_key_store_one_set(tenant_a, no_scopes):
    batch = [
        {"advocate": {"email": tenant_a.advocate.email}, "kind": "purchase", "value": "9.99", "occurred_at": "2026-01-01T00:00:00Z"},
        {"advocate": {"email": tenant_a.advocate.email}, "kind": "email_open", "occurred_at": "2026-01-02T00:00:00Z"},
    ]
    results = _race(tenant_a.api_secret, EVENTS, batch, "race-key")
    statuses = [status for status, _, _ in results]
    bodies = [body for _, body, _ in results]
    assert statuses == [201] * 20, results
    assert sorted(replayed for _, _, replayed in results) == [False] + [True] * 19
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["created"] == 2
    assert ActivityEvent.objects.count() == 2
    assert sorted(ActivityEvent.objects.values_list("id", flat=True)) == sorted(bodies[0]["ids"])
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_identical_advocate_creates_with_one_key_create_one(tenant_a, no_scopes):
    results = _race(tenant_a.api_secret, ADVOCATES, {"email": "racer@x.com", "tags": ["fast"]}, "adv-race", threads=10)
    assert [s for s, _, _ in results] == [201] * 10, results
    assert len({b["id"] for _, b, _ in results}) == 1
    assert sum(not replayed for _, _, replayed in results) == 1
    assert Advocate.objects.filter(email="racer@x.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_creates_without_a_key_give_one_201_and_409s_never_500(tenant_a, no_scopes):
    results = _race(tenant_a.api_secret, ADVOCATES, {"email": "dupe@x.com"}, None, threads=10)
    statuses = sorted(s for s, _, _ in results)
    assert statuses == [201] + [409] * 9, results
    assert all(b["error"]["code"] == "duplicate_email" for s, b, _ in results if s == 409)
    assert Advocate.objects.filter(email="dupe@x.com").count() == 1
