"""/api/v1/tasks/: the managers' task list (check-ins, follow-ups), filters, closing as done
or dismissed with notes, reopening; a pinned query count; another workspace's key gets 404.
PRODUCT.md "Fatigue" (check-in tasks)."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advocacy.models import AuditLog, Task, TaskKind
from advocacy.scoping import scopes_disabled
from tests.api.helpers import error_of, post_json
from tests.factories import AdvocateFactory
from tests.isolation.helpers import assert_unchanged, db_fingerprint

pytestmark = pytest.mark.django_db

URL = "/api/v1/tasks/"
# Authenticate the key (1), count (1), page with who it is assigned to and who closed it (1).
LIST_QUERIES = 3


def task(workspace, **fields) -> Task:
    return Task.objects.with_scopes_disabled().create(workspace=workspace, **({"kind": TaskKind.CHECK_IN, "title": "Check in"} | fields))


def reload(t: Task) -> Task:
    with scopes_disabled():
        return Task.objects.get(pk=t.pk)


def test_list_is_newest_first_and_filters_by_status_kind_and_advocate(api_a, tenant_a, tenant_b):
    with time_machine.travel("2026-03-01T10:00:00Z"):
        old = task(tenant_a.workspace, advocate=tenant_a.advocate, kind=TaskKind.DETRACTOR, title="Call Ada")
    with time_machine.travel("2026-04-01T10:00:00Z"):
        new = task(tenant_a.workspace, status=Task.Status.DONE)
    task(tenant_b.workspace)

    def ids(query=""):
        response = api_a.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [t["id"] for t in response.json()["results"]]

    assert ids() == [new.pk, old.pk]
    assert ids("status=open") == [old.pk]
    assert ids("kind=detractor") == [old.pk]
    assert ids(f"advocate={tenant_a.advocate.pk}") == [old.pk]
    for bad in ("status=late", "kind=chore", "advocate=x"):
        error_of(api_a.get(f"{URL}?{bad}"), 400)
    body = api_a.get(f"{URL}{old.pk}/").json()
    assert body | {"advocate": tenant_a.advocate.pk, "kind": "detractor", "title": "Call Ada", "status": "open",
                   "notes": "", "done_at": None, "done_by": None, "assigned_to": None} == body


@pytest.mark.parametrize("status", ["done", "dismissed"])
def test_close_records_the_status_and_notes(api_a, tenant_a, status):
    t = task(tenant_a.workspace, advocate=tenant_a.advocate)
    response = post_json(api_a, f"{URL}{t.pk}/close/", {"status": status, "notes": "Called; all good"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["notes"]) == (status, "Called; all good")
    assert body["done_at"] is not None
    with scopes_disabled():
        assert AuditLog.objects.filter(action=f"task.{status}", data__task=t.pk).exists()


def test_close_defaults_to_done(api_a, tenant_a):
    assert post_json(api_a, f"{URL}{task(tenant_a.workspace).pk}/close/", {}).json()["status"] == "done"


@pytest.mark.parametrize(("body", "field"), [({"status": "open"}, "status"), ({"status": "later"}, "status"),
                                             ({"notes": "x" * 5001}, "notes")])
def test_close_with_bad_input_is_400(api_a, tenant_a, body, field):
    t = task(tenant_a.workspace)
    assert field in error_of(post_json(api_a, f"{URL}{t.pk}/close/", body), 400)["fields"]
    assert reload(t).status == Task.Status.OPEN


def test_closing_a_closed_task_is_409_and_reopening_works_once(api_a, tenant_a):
    t = task(tenant_a.workspace)
    post_json(api_a, f"{URL}{t.pk}/close/", {"notes": "first"})
    before = db_fingerprint()
    error_of(post_json(api_a, f"{URL}{t.pk}/close/", {"notes": "second"}), 409, "invalid_transition")
    assert_unchanged(before, "closing a closed task")
    assert post_json(api_a, f"{URL}{t.pk}/reopen/", {}).json()["status"] == "open"
    error_of(post_json(api_a, f"{URL}{t.pk}/reopen/", {}), 409, "invalid_transition")


def test_the_list_runs_the_same_queries_for_5_and_50_tasks(api_a, tenant_a):
    url = f"{URL}?page_size=200"

    def add(n):
        for _ in range(n):
            task(tenant_a.workspace, advocate=AdvocateFactory(workspace=tenant_a.workspace), assigned_to=tenant_a.manager,
                 done_by=tenant_a.owner, status=Task.Status.DONE)

    with time_machine.travel("2026-05-10T12:00:00Z", tick=False):
        api_a.get(url)
        add(5)
        with CaptureQueriesContext(connection) as five:
            api_a.get(url)
        add(45)
        with CaptureQueriesContext(connection) as fifty:
            body = api_a.get(url).json()
    assert body["count"] == 50
    assert {(t["assigned_to"], t["done_by"]) for t in body["results"]} == {("manager@alpha.example", "owner@alpha.example")}
    assert len(five.captured_queries) == len(fifty.captured_queries) == LIST_QUERIES


@pytest.mark.parametrize(("method", "path"), [("get", ""), ("post", "close/"), ("post", "reopen/")])
def test_another_workspaces_key_gets_404(tenant_a, tenant_b, method, path):
    t = task(tenant_a.workspace, status=Task.Status.DONE if path == "reopen/" else Task.Status.OPEN)
    before = db_fingerprint()
    error_of(getattr(tenant_b.api(), method)(f"{URL}{t.pk}/{path}", {"notes": "x"}, format="json"), 404, "not_found")
    assert_unchanged(before, f"{method} {path} with B's key")
    assert tenant_b.api().get(URL).json()["count"] == 0
