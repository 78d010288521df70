"""PRODUCT.md "Scale": API lists run a fixed number of queries whatever the page size.
The counts are pinned; a change that adds a query per row (or per request) fails here."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advocacy.models import ActivityEvent, Advocate, AdvocateTag, Tag

pytestmark = pytest.mark.django_db

# Authenticate the key (1), count (1), page (1), prefetch tags (1).
ADVOCATE_LIST_QUERIES = 4
# Authenticate the key (1), count (1), page (1).
EVENT_LIST_QUERIES = 3
# Authenticate the key (1), the advocate (1), its tags (1).
ADVOCATE_DETAIL_QUERIES = 3


def add_advocates(workspace, count: int, start: int) -> list[Advocate]:
    """``count`` advocates with two tags each, in a handful of queries."""
    advocates = Advocate.objects.bulk_create(
        [Advocate(workspace=workspace, email=f"n{start + i}@x.com", name=f"N {start + i}") for i in range(count)]
    )
    tags = [Tag.objects.get_or_create(workspace=workspace, name=name)[0] for name in ("red", "blue")]
    AdvocateTag.objects.bulk_create(
        [AdvocateTag(workspace=workspace, advocate=a, tag=t) for a in advocates for t in tags]
    )
    return advocates


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


@pytest.fixture
def frozen():
    """Within one minute, so the key's last_used_at is written once (by the warm-up call)."""
    with time_machine.travel("2026-05-10T12:00:00Z", tick=False):
        yield


def test_advocate_list_runs_the_same_queries_for_10_and_100_advocates(api_a, tenant_a, frozen, no_scopes):
    url = "/api/v1/advocates/?page_size=200"
    api_a.get(url)  # warm-up: records the key's last use
    add_advocates(tenant_a.workspace, 9, 0)
    ten = count_queries(api_a, url)
    assert api_a.get(url).json()["count"] == 10
    add_advocates(tenant_a.workspace, 90, 100)
    hundred = count_queries(api_a, url)
    body = api_a.get(url).json()
    assert body["count"] == 100 and len(body["results"]) == 100
    assert all(sorted(a["tags"]) == ["blue", "red"] for a in body["results"] if a["email"].startswith("n"))
    assert ten == hundred == ADVOCATE_LIST_QUERIES


@pytest.mark.parametrize("query", ["stage=candidate", "tag=red", "q=n1", "sort=-last_activity", "type=customer&sort=name"])
def test_filtered_advocate_list_is_pinned_too(api_a, tenant_a, frozen, no_scopes, query):
    api_a.get("/api/v1/advocates/")
    add_advocates(tenant_a.workspace, 30, 0)
    assert count_queries(api_a, f"/api/v1/advocates/?{query}&page_size=200") == ADVOCATE_LIST_QUERIES


def test_event_list_runs_the_same_queries_for_10_and_100_events(api_a, tenant_a, frozen, no_scopes):
    url = "/api/v1/events/?page_size=200"
    api_a.get(url)

    def add(n):
        ActivityEvent.objects.bulk_create([
            ActivityEvent(workspace=tenant_a.workspace, advocate=tenant_a.advocate, kind="email_open",
                          occurred_at="2026-05-01T00:00:00Z", properties={"i": i})
            for i in range(n)
        ])

    add(10)
    ten = count_queries(api_a, url)
    add(90)
    hundred = count_queries(api_a, url)
    assert ten == hundred == EVENT_LIST_QUERIES


def test_advocate_detail_query_count_is_pinned(api_a, tenant_a, frozen, no_scopes):
    [advocate] = add_advocates(tenant_a.workspace, 1, 0)
    api_a.get("/api/v1/advocates/")
    assert count_queries(api_a, f"/api/v1/advocates/{advocate.pk}/") == ADVOCATE_DETAIL_QUERIES


def test_a_batch_of_events_is_stored_in_a_fixed_number_of_queries(api_a, tenant_a, frozen, no_scopes):
    """Two lookups (by email, by external id), one insert, one update of last_activity_at."""
    api_a.get("/api/v1/advocates/")
    people = add_advocates(tenant_a.workspace, 50, 0)

    def post(n):
        batch = [{"advocate": {"email": p.email}, "kind": "purchase"} for p in people[:n]]
        with CaptureQueriesContext(connection) as ctx:
            response = api_a.post("/api/v1/events/", batch, format="json")
        assert response.status_code == 201
        return len(ctx.captured_queries)

    assert post(5) == post(50)
