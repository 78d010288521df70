"""/api/v1/programs/: CRUD through programs.services, validation as 400 with field errors,
409 for a duplicate name and for deleting a program that has asks, filters, a pinned query
count, and another workspace's key gets 404. PRODUCT.md "Programs and asks"."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advocacy.models import AuditLog
from advocacy.scoping import scopes_disabled
from programs.models import Program
from tests.api.helpers import error_of, patch_json, post_json
from tests.factories import AskFactory, ProgramFactory
from tests.isolation.helpers import assert_unchanged, db_fingerprint

pytestmark = pytest.mark.django_db

URL = "/api/v1/programs/"
# Authenticate the key (1), count (1), page (1).
LIST_QUERIES = 3
FULL = {
    "name": "Reviews 2026", "goal": "reviews", "status": "draft", "description": "Reviews on G2",
    "landing_url": "https://example.com/join", "objectives": {"reviews": 50, "pipeline": 250000},
    "onboarding_steps": ["Accept the terms", "  Watch   the intro "],
}


def programs(workspace):
    with scopes_disabled():
        return list(Program.objects.filter(workspace=workspace))


def test_create_returns_the_program_and_records_it(api_a, tenant_a):
    response = post_json(api_a, URL, FULL)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "name", "goal", "status", "description", "landing_url", "objectives", "onboarding_steps", "created_at"}
    assert body | {**FULL, "onboarding_steps": ["Accept the terms", "Watch the intro"]} == body
    [program] = programs(tenant_a.workspace)
    assert program.pk == body["id"]
    with scopes_disabled():
        assert AuditLog.objects.filter(workspace=tenant_a.workspace, action="program.created").count() == 1


def test_create_with_only_a_name_takes_the_defaults(api_a):
    body = post_json(api_a, URL, {"name": "  Community  "}).json()
    assert body | {"name": "Community", "goal": "mixed", "status": "active", "objectives": {}, "onboarding_steps": [], "landing_url": ""} == body


@pytest.mark.parametrize(("payload", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"name": "P", "goal": "fame"}, "goal"),
    ({"name": "P", "status": "live"}, "status"),
    ({"name": "P", "landing_url": "not a url"}, "landing_url"),
    ({"name": "P", "objectives": {"followers": 10}}, "objectives"),
    ({"name": "P", "objectives": {"reviews": -1}}, "objectives"),
    ({"name": "P", "objectives": {"reviews": "many"}}, "objectives"),
    ({"name": "P", "objectives": [1, 2]}, "objectives"),
    ({"name": "P", "onboarding_steps": ["step"] * 11}, "onboarding_steps"),
    ({"name": "P", "onboarding_steps": ["x" * 201]}, "onboarding_steps"),
    ({"name": "P", "onboarding_steps": "Accept"}, "onboarding_steps"),
])
def test_invalid_input_is_400_with_the_field_named(api_a, tenant_a, payload, field):
    error = error_of(post_json(api_a, URL, payload), 400)
    assert field in error["fields"], error
    assert programs(tenant_a.workspace) == []


def test_the_unknown_metric_error_lists_the_metrics(api_a):
    error = error_of(post_json(api_a, URL, {"name": "P", "objectives": {"followers": 10}}), 400)
    assert "followers" in error["message"] and "reviews" in error["message"]


def test_a_duplicate_name_is_409_whatever_its_case(api_a, tenant_a, tenant_b):
    ProgramFactory(workspace=tenant_a.workspace, name="Reviews")
    ProgramFactory(workspace=tenant_b.workspace, name="Community")
    error = error_of(post_json(api_a, URL, {"name": "reviews"}), 409, "duplicate_name")
    assert error["fields"] == {"name": ["Already used."]}
    assert post_json(api_a, URL, {"name": "Community"}).status_code == 201  # names are per workspace


def test_patch_changes_only_what_is_given_and_put_replaces(api_a, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace, name="Old", goal="reviews", objectives={"reviews": 5})
    body = patch_json(api_a, f"{URL}{program.pk}/", {"status": "paused"}).json()
    assert (body["name"], body["goal"], body["status"], body["objectives"]) == ("Old", "reviews", "paused", {"reviews": 5})
    put = api_a.put(f"{URL}{program.pk}/", {"name": "New"}, format="json")
    assert put.status_code == 200, put.content
    assert put.json()["name"] == "New"
    error_of(api_a.put(f"{URL}{program.pk}/", {"goal": "reviews"}, format="json"), 400)


def test_renaming_onto_another_programs_name_is_409(api_a, tenant_a):
    ProgramFactory(workspace=tenant_a.workspace, name="Taken")
    program = ProgramFactory(workspace=tenant_a.workspace, name="Mine")
    error_of(patch_json(api_a, f"{URL}{program.pk}/", {"name": "TAKEN"}), 409, "duplicate_name")
    assert patch_json(api_a, f"{URL}{program.pk}/", {"name": "mine"}).status_code == 200  # its own name, recased


def test_delete_removes_a_program_without_asks(api_a, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace)
    assert api_a.delete(f"{URL}{program.pk}/").status_code == 204
    assert programs(tenant_a.workspace) == []
    error_of(api_a.get(f"{URL}{program.pk}/"), 404)
    with scopes_disabled():
        assert AuditLog.objects.filter(action="program.deleted", data__program=program.pk).exists()


def test_delete_of_a_program_with_asks_is_409_and_keeps_it(api_a, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace)
    AskFactory(program=program)
    before = db_fingerprint()
    error = error_of(api_a.delete(f"{URL}{program.pk}/"), 409, "program_has_asks")
    assert "archive" in error["message"]
    assert_unchanged(before, "refused delete")
    assert patch_json(api_a, f"{URL}{program.pk}/", {"status": "archived"}).json()["status"] == "archived"


def test_list_is_by_name_and_filters_by_status_and_goal(api_a, tenant_a, tenant_b):
    b = ProgramFactory(workspace=tenant_a.workspace, name="B", goal="reviews", status="active")
    a = ProgramFactory(workspace=tenant_a.workspace, name="A", goal="references", status="paused")
    ProgramFactory(workspace=tenant_b.workspace, name="Theirs")

    def ids(query=""):
        response = api_a.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [p["id"] for p in response.json()["results"]]

    assert ids() == [a.pk, b.pk]
    assert ids("status=active") == [b.pk]
    assert ids("goal=references") == [a.pk]
    assert ids("goal=references&status=active") == []
    error_of(api_a.get(f"{URL}?status=live"), 400)


def test_the_list_runs_the_same_queries_for_5_and_50_programs(api_a, tenant_a):
    url = f"{URL}?page_size=200"
    with time_machine.travel("2026-05-10T12:00:00Z", tick=False):
        api_a.get(url)
        for _ in range(5):
            ProgramFactory(workspace=tenant_a.workspace)
        with CaptureQueriesContext(connection) as five:
            api_a.get(url)
        for _ in range(45):
            ProgramFactory(workspace=tenant_a.workspace)
        with CaptureQueriesContext(connection) as fifty:
            assert api_a.get(url).json()["count"] == 50
    assert len(five.captured_queries) == len(fifty.captured_queries) == LIST_QUERIES


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_another_workspaces_key_gets_404(tenant_a, tenant_b, method):
    program = ProgramFactory(workspace=tenant_a.workspace, name="Secret")
    before = db_fingerprint()
    client = tenant_b.api()
    response = getattr(client, method)(f"{URL}{program.pk}/", {"name": "Hijacked"}, format="json")
    error_of(response, 404, "not_found")
    assert_unchanged(before, f"{method} with B's key")
    assert client.get(URL).json()["count"] == 0


def test_without_a_key_it_is_401(client):
    error_of(client.get(URL), 401)
    error_of(post_json(client, URL, {"name": "P"}), 401)
