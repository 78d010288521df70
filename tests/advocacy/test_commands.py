"""Management commands as PRODUCT.md "Interfaces" states them, and the purge of old
idempotency records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from advocacy.models import (
    ActivityEvent,
    Advocate,
    AdvocateTag,
    ApiKey,
    IdempotencyRecord,
    Membership,
    Role,
    Stage,
    User,
    Workspace,
)
from advocacy.scoping import scopes_disabled
from advocacy.tasks import purge_idempotency_keys

from ..factories import UserFactory

pytestmark = pytest.mark.django_db



def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# --- create_workspace -------------------------------------------------------------------


def test_create_workspace_with_new_owner_creates_the_account():
    out, _ = run("create_workspace", "acme", "--name", "Acme Inc", "--owner", "Boss@Acme.example")
    workspace = Workspace.objects.get(slug="acme")
    assert workspace.name == "Acme Inc"
    owner = User.objects.get(email="boss@acme.example")
    assert Membership.objects.get(workspace=workspace, user=owner).role == Role.OWNER
    assert owner.emailaddress_set.get(email="boss@acme.example").verified
    assert "Created the account boss@acme.example" in out
    assert "Created workspace acme (Acme Inc)" in out


def test_create_workspace_with_existing_owner_reuses_the_account():
    existing = UserFactory(email="owner@acme.example")
    out, _ = run("create_workspace", "acme", "--owner", "owner@acme.example")
    assert "Created the account" not in out
    assert User.objects.filter(email="owner@acme.example").count() == 1
    workspace = Workspace.objects.get(slug="acme")
    assert workspace.name == "Acme"  # derived from the slug
    assert Membership.objects.get(workspace=workspace).user == existing


def test_create_workspace_without_owner():
    run("create_workspace", "lonely")
    workspace = Workspace.objects.get(slug="lonely")
    assert not Membership.objects.filter(workspace=workspace).exists()


def test_create_workspace_with_password_lets_the_owner_sign_in(client):
    run("create_workspace", "acme", "--owner", "boss@acme.example", "--password", "s3cret-Enough-pass")
    response = client.post("/accounts/login/", {"login": "boss@acme.example", "password": "s3cret-Enough-pass"})
    assert response.status_code == 302
    assert client.get("/w/acme/").status_code == 200


def test_create_workspace_with_duplicate_slug_is_a_command_error():
    run("create_workspace", "acme", "--name", "First")
    with pytest.raises(CommandError, match=r"A workspace with the slug “acme” already exists\."):
        run("create_workspace", "acme", "--name", "Second")
    assert Workspace.objects.get(slug="acme").name == "First"


@pytest.mark.parametrize(("slug", "message"), [("admin", "reserved"), ("Not A Slug!", "lower-case letters, digits and hyphens"), ("trailing-", "hyphen")])
def test_create_workspace_with_bad_or_reserved_slug_is_a_command_error(slug, message):
    with pytest.raises(CommandError, match=message):
        run("create_workspace", slug)
    assert not Workspace.objects.exists()


# --- create_api_key ---------------------------------------------------------------------


def test_create_api_key_prints_a_key_on_its_last_line_that_authenticates(tenant_a, tenant_b):
    out, err = run("create_api_key", "alpha")
    key = out.strip().splitlines()[-1].strip()
    assert key
    assert "keep it now" in err
    with scopes_disabled():
        stored = ApiKey.objects.filter(workspace=tenant_a.workspace).order_by("-pk").first()
    assert key.startswith(stored.prefix) and stored.key_hash != key  # only a hash is stored

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = api.get("/api/v1/advocates/")
    assert response.status_code == 200
    assert [a["email"] for a in response.json()["results"]] == [tenant_a.advocate.email]


def test_create_api_key_takes_a_name(tenant_a):
    run("create_api_key", "alpha", "--name", "Salesforce sync")
    with scopes_disabled():
        assert ApiKey.objects.filter(workspace=tenant_a.workspace, name="Salesforce sync").exists()


def test_create_api_key_for_unknown_workspace_is_a_command_error(tenant_a):
    with pytest.raises(CommandError, match="No workspace with the slug “nope”"):
        run("create_api_key", "nope")
    with scopes_disabled():
        assert ApiKey.objects.count() == 1  # only the fixture's key


def test_a_garbage_key_is_refused(tenant_a):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-key")
    assert api.get("/api/v1/advocates/").status_code == 401


# --- seed_demo --------------------------------------------------------------------------


def demo_counts() -> dict[str, object]:
    with scopes_disabled():
        workspace = Workspace.objects.get(slug="demo")
        advocates = Advocate.objects.filter(workspace=workspace)
        return {
            "advocates": advocates.count(),
            "events": ActivityEvent.objects.filter(workspace=workspace).count(),
            "tag_links": AdvocateTag.objects.filter(workspace=workspace).count(),
            "stages": dict(sorted((s, advocates.filter(stage=s).count()) for s in Stage.values)),
            "members": sorted(Membership.objects.filter(workspace=workspace).values_list("user__email", "role")),
            "users": User.objects.count(),
            "workspaces": Workspace.objects.count(),
        }


def test_seed_demo_builds_the_demo_workspace_and_is_safe_to_rerun(client):
    out, _ = run("seed_demo")
    assert "Demo workspace ready" in out
    first = demo_counts()
    assert 200 <= first["advocates"] <= 1000
    assert first["events"] > first["advocates"]
    assert first["tag_links"] > 0
    assert sum(1 for n in first["stages"].values() if n) >= 5  # varied stages
    assert first["members"] == [("manager@example.com", Role.OWNER), ("viewer@example.com", Role.VIEWER)]
    with scopes_disabled():
        workspace = Workspace.objects.get(slug="demo")
        advocates = Advocate.objects.filter(workspace=workspace)
        assert advocates.values("company").distinct().count() > 5
        assert ActivityEvent.objects.filter(workspace=workspace).values("kind").distinct().count() >= 5
        assert advocates.filter(last_activity_at__isnull=False).exists()
        assert advocates.get(email="ada@example.com").stage == Stage.ACTIVE

    out, _ = run("seed_demo")
    assert "0 advocates added, 0 events added" in out
    assert demo_counts() == first

    # the demo staff can sign in
    assert client.post("/accounts/login/", {"login": "manager@example.com", "password": "advocacy-demo"}).status_code == 302
    assert client.get("/w/demo/").status_code == 200


def test_seed_demo_keeps_an_existing_demo_workspace(tenant_a):
    run("create_workspace", "demo", "--name", "Our Demo")
    run("seed_demo", "--advocates", "20")
    counts = demo_counts()
    assert counts["advocates"] == 20
    assert Workspace.objects.get(slug="demo").name == "Our Demo"
    assert ("manager@example.com", Role.OWNER) in counts["members"]
    with scopes_disabled():
        assert Advocate.objects.filter(workspace=tenant_a.workspace).count() == 1  # other tenants untouched


# --- purge_idempotency_keys ----------------------------------------------------------------


def test_purge_idempotency_keys_deletes_only_records_older_than_24_hours(tenant_a, tenant_b):
    start = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    with scopes_disabled():
        def record(workspace, key: str, at: datetime) -> IdempotencyRecord:
            return IdempotencyRecord.objects.create(
                workspace=workspace, key=key, method="POST", path="/api/v1/ledger/", request_hash="h" * 64,
                status_code=201, response_body={"ok": True}, created_at=at,
            )

        old_a = record(tenant_a.workspace, "old-a", start)
        old_b = record(tenant_b.workspace, "old-b", start + timedelta(minutes=30))
        edge = record(tenant_a.workspace, "edge", start + timedelta(hours=1, minutes=1))
        fresh = record(tenant_a.workspace, "fresh", start + timedelta(hours=20))

    with time_machine.travel(start + timedelta(hours=25), tick=False):
        assert purge_idempotency_keys() == 2
        assert purge_idempotency_keys.delay().get() == 0  # twice is harmless
        with scopes_disabled():
            left = set(IdempotencyRecord.objects.values_list("pk", flat=True))
        assert left == {edge.pk, fresh.pk}
        assert old_a.pk not in left and old_b.pk not in left

    with time_machine.travel(start + timedelta(hours=43), tick=False):
        assert purge_idempotency_keys() == 1
        with scopes_disabled():
            assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


def test_purge_idempotency_keys_with_nothing_to_do():
    assert purge_idempotency_keys() == 0
