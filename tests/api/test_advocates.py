"""/api/v1/advocates/: create, list (filters, search, sort, pagination), retrieve, update,
stage changes and erasure. PRODUCT.md "Advocates"."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from advocacy.models import ActivityEvent, Advocate, AdvocateTag, AuditLog, Stage
from tests.factories import ActivityEventFactory, AdvocateFactory

from .helpers import error_of, patch_json, post_json

pytestmark = pytest.mark.django_db

URL = "/api/v1/advocates/"


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


# --- create -------------------------------------------------------------------------------


def test_create_normalises_email_to_lower_case_and_defaults_to_candidate(api_a, tenant_a, no_scopes):
    response = post_json(api_a, URL, {"email": "  Ada.Lovelace@Example.COM ", "name": " Ada Lovelace "})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "ada.lovelace@example.com"
    assert body["name"] == "Ada Lovelace"
    assert body["stage"] == "candidate"
    assert body["tags"] == []
    assert body["channels"] == ["email", "portal"]
    assert body["score"] == 0 and body["points_balance"] == 0
    stored = Advocate.objects.get(pk=body["id"])
    assert stored.workspace_id == tenant_a.workspace.pk
    assert stored.email == "ada.lovelace@example.com"


def test_create_with_tags_stage_and_fields(api_a, no_scopes):
    payload = {
        "email": "grace@navy.mil", "name": "Grace Hopper", "company": "Navy", "title": "Rear Admiral",
        "type": "partner", "external_id": "crm-42", "customer_since": "2020-01-15",
        "tags": ["VIP", " beta  tester ", "vip"], "stage": "active",
        "motivation": "intrinsic", "expressiveness": "extraverted", "max_asks_per_month": 2,
        "channels": ["portal"], "preferred_ask_kinds": ["review"], "show_on_leaderboards": False,
    }
    response = post_json(api_a, URL, payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert sorted(body["tags"]) == ["beta tester", "vip"]
    assert body["stage"] == "active"
    assert body["external_id"] == "crm-42"
    assert body["customer_since"] == "2020-01-15"
    assert (body["type"], body["motivation"], body["expressiveness"]) == ("partner", "intrinsic", "extraverted")
    assert body["max_asks_per_month"] == 2 and body["channels"] == ["portal"]
    assert body["show_on_leaderboards"] is False
    advocate = Advocate.objects.get(pk=body["id"])
    assert sorted(t.name for t in advocate.tags.all()) == ["beta tester", "vip"]
    assert AuditLog.objects.filter(advocate=advocate, action="advocate.created").count() == 1


def test_read_only_fields_are_ignored_on_create(api_a, no_scopes):
    response = post_json(api_a, URL, {"email": "ro@x.com", "score": 99, "points_balance": 1000, "id": 1, "tier": "gold"})
    assert response.status_code == 201
    advocate = Advocate.objects.get(pk=response.json()["id"])
    assert (advocate.score, advocate.points_balance, advocate.tier) == (0, 0, "")


def test_blank_external_id_is_stored_as_null_so_many_may_have_none(api_a, no_scopes):
    first = post_json(api_a, URL, {"email": "one@x.com", "external_id": ""})
    second = post_json(api_a, URL, {"email": "two@x.com", "external_id": "  "})
    assert first.status_code == second.status_code == 201
    assert first.json()["external_id"] is None and second.json()["external_id"] is None


def test_duplicate_email_in_another_case_is_409(api_a, no_scopes):
    assert post_json(api_a, URL, {"email": "ada@x.com"}).status_code == 201
    error = error_of(post_json(api_a, URL, {"email": "ADA@x.com"}), 409, "duplicate_email")
    assert "email" in error["fields"]
    assert Advocate.objects.filter(email__iexact="ada@x.com").count() == 1


def test_duplicate_external_id_is_409(api_a, no_scopes):
    assert post_json(api_a, URL, {"email": "a@x.com", "external_id": "crm-1"}).status_code == 201
    error = error_of(post_json(api_a, URL, {"email": "b@x.com", "external_id": "crm-1"}), 409, "duplicate_external_id")
    assert "external_id" in error["fields"]
    assert not Advocate.objects.filter(email="b@x.com").exists()


def test_same_email_and_external_id_may_exist_in_workspace_b(api_a, tenant_b, no_scopes):
    payload = {"email": "shared@x.com", "external_id": "crm-7"}
    a = post_json(api_a, URL, payload)
    b = post_json(tenant_b.api(), URL, {**payload, "email": "SHARED@x.com"})
    assert a.status_code == b.status_code == 201
    assert Advocate.objects.get(pk=a.json()["id"]).workspace_id != Advocate.objects.get(pk=b.json()["id"]).workspace_id


def test_tags_are_per_workspace(api_a, tenant_b, no_scopes):
    post_json(api_a, URL, {"email": "t@x.com", "tags": ["vip"]})
    post_json(tenant_b.api(), URL, {"email": "t@x.com", "tags": ["vip"]})
    assert AdvocateTag.objects.filter(tag__name="vip").values("tag_id").distinct().count() == 2


# --- list -----------------------------------------------------------------------------------


@pytest.fixture
def people(tenant_a):
    """A small, varied population in workspace A (plus the fixture's own advocate)."""
    ws = tenant_a.workspace
    return {
        "ada": AdvocateFactory(workspace=ws, name="Ada Lovelace", email="ada@analytical.example", company="Analytical",
                               stage=Stage.ACTIVE, type="customer", external_id="crm-1", tags=["vip", "beta"]),
        "bob": AdvocateFactory(workspace=ws, name="Bob Byte", email="bob@bits.example", company="Bits",
                               stage=Stage.CANDIDATE, type="employee", tags=["beta"]),
        "cy": AdvocateFactory(workspace=ws, name="Cy Cipher", email="cy@crypt.example", company="Crypt",
                              stage=Stage.PAUSED, type="partner", external_id="crm-3", score=80),
        "di": AdvocateFactory(workspace=ws, name="Di Delta", email="di@delta.example", company="Analytical",
                              stage=Stage.OPTED_OUT, type="customer", score=10),
    }


def emails(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [a["email"] for a in response.json()["results"]]


def test_list_returns_only_this_workspace_ordered_by_id(api_a, tenant_a, tenant_b, people):
    AdvocateFactory(workspace=tenant_b.workspace, email="b-only@x.com")
    body = api_a.get(URL).json()
    assert body["count"] == 5
    ids = [a["id"] for a in body["results"]]
    assert ids == sorted(ids)
    assert "b-only@x.com" not in [a["email"] for a in body["results"]]
    assert set(body) >= {"count", "next", "previous", "results"}


def test_list_shows_tags(api_a, people):
    row = next(a for a in api_a.get(URL).json()["results"] if a["email"] == "ada@analytical.example")
    assert sorted(row["tags"]) == ["beta", "vip"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("stage=active", {"ada", "fixture"}),
        ("stage=active&stage=paused", {"ada", "cy", "fixture"}),
        ("stage=opted_out", {"di"}),
        ("type=employee", {"bob"}),
        ("type=partner", {"cy"}),
        ("tag=beta", {"ada", "bob"}),
        ("tag=VIP", {"ada"}),
        ("tag=nobody", set()),
        ("q=analytical", {"ada", "di"}),
        ("q=BYTE", {"bob"}),
        ("q=crm-3", {"cy"}),
        ("q=cipher", {"cy"}),
        ("email=ADA@analytical.example", {"ada"}),
        ("email=ada", set()),
        ("external_id=crm-1", {"ada"}),
        ("external_id=CRM-1", set()),
        ("stage=active&tag=vip&type=customer", {"ada"}),
    ],
)
def test_list_filters(api_a, tenant_a, people, query, expected):
    names = {a.email: k for k, a in people.items()} | {tenant_a.advocate.email: "fixture"}
    assert {names[e] for e in emails(api_a.get(f"{URL}?{query}"))} == expected


def test_tag_filter_does_not_duplicate_rows(api_a, people):
    got = emails(api_a.get(f"{URL}?tag=beta&page_size=200"))
    assert len(got) == len(set(got)) == 2


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["ada", "fixture", "bob", "cy", "di"]),
        ("-name", ["di", "cy", "bob", "fixture", "ada"]),
        ("-score", ["cy", "di", "fixture", "ada", "bob"]),
        ("email", ["ada", "fixture", "bob", "cy", "di"]),
    ],
)
def test_list_sort(api_a, tenant_a, people, sort, expected):
    people = {**people, "fixture": tenant_a.advocate}
    assert emails(api_a.get(f"{URL}?sort={sort}")) == [people[k].email for k in expected]


def test_list_sort_by_last_activity(api_a, tenant_a, people, no_scopes):
    base = timezone.now() - timedelta(days=10)
    for offset, key in enumerate(["bob", "ada", "cy"]):
        Advocate.objects.filter(pk=people[key].pk).update(last_activity_at=base + timedelta(days=offset))
    got = emails(api_a.get(f"{URL}?sort=-last_activity&page_size=3"))
    assert got[:3] == [people["cy"].email, people["ada"].email, people["bob"].email]


def test_pagination_pages_through_everything_once(api_a, tenant_a):
    for i in range(11):
        AdvocateFactory(workspace=tenant_a.workspace, email=f"p{i:02}@x.com")
    seen, url, pages = [], f"{URL}?page_size=5", 0
    while url:
        body = api_a.get(url).json()
        assert body["count"] == 12
        seen += [a["id"] for a in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 12


def test_page_size_defaults_to_50_and_is_capped_at_200(api_a, tenant_a, no_scopes):
    Advocate.objects.bulk_create(
        [Advocate(workspace=tenant_a.workspace, email=f"bulk{i}@x.com") for i in range(210)]
    )
    assert len(api_a.get(URL).json()["results"]) == 50
    assert len(api_a.get(f"{URL}?page_size=7").json()["results"]) == 7
    capped = api_a.get(f"{URL}?page_size=1000").json()
    assert capped["count"] == 211
    assert len(capped["results"]) == 200
    assert capped["next"] is not None


# --- retrieve -------------------------------------------------------------------------------


def test_retrieve_returns_every_documented_field(api_a, tenant_a):
    body = api_a.get(detail(tenant_a.advocate.pk)).json()
    assert body["id"] == tenant_a.advocate.pk
    assert body["email"] == tenant_a.advocate.email
    for field in ("stage_changed_at", "score_breakdown", "last_activity_at", "lifetime_points", "tier", "created_at", "updated_at"):
        assert field in body
    assert "workspace" not in body and "user" not in body


@pytest.mark.parametrize("path", ["{pk}", "{pk}/"])
def test_retrieve_with_or_without_trailing_slash(api_a, tenant_a, path):
    response = api_a.get(URL + path.format(pk=tenant_a.advocate.pk))
    assert response.status_code == 200


# --- update -----------------------------------------------------------------------------------


def test_patch_changes_only_the_given_fields(api_a, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, name="Old", company="OldCo", title="CTO", email="p@x.com")
    response = patch_json(api_a, detail(advocate.pk), {"name": "New", "email": "P.New@X.com", "max_asks_per_month": 1})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["email"], body["company"], body["title"]) == ("New", "p.new@x.com", "OldCo", "CTO")
    advocate.refresh_from_db()
    assert (advocate.name, advocate.email, advocate.max_asks_per_month) == ("New", "p.new@x.com", 1)
    entry = AuditLog.objects.get(advocate=advocate, action="advocate.updated")
    assert "email" in entry.data and "name" in entry.data


def test_patch_tags_replaces_them(api_a, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, tags=["old", "keep"])
    response = patch_json(api_a, detail(advocate.pk), {"tags": ["keep", "New"]})
    assert response.status_code == 200
    assert sorted(response.json()["tags"]) == ["keep", "new"]
    assert sorted(t.name for t in advocate.tags.all()) == ["keep", "new"]


def test_patch_empty_tags_removes_all(api_a, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, tags=["a", "b"])
    assert patch_json(api_a, detail(advocate.pk), {"tags": []}).json()["tags"] == []
    assert not advocate.tags.exists()


def test_patch_without_tags_keeps_them(api_a, tenant_a):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, tags=["a"])
    assert patch_json(api_a, detail(advocate.pk), {"name": "X"}).json()["tags"] == ["a"]


def test_put_replaces_the_record(api_a, tenant_a):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, email="put@x.com", company="C")
    response = api_a.put(detail(advocate.pk), {"email": "put2@x.com", "name": "Put"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "put2@x.com"


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Stage.CANDIDATE, Stage.INVITED), (Stage.CANDIDATE, Stage.ACTIVE), (Stage.INVITED, Stage.ACTIVE),
        (Stage.ACTIVE, Stage.PAUSED), (Stage.PAUSED, Stage.ACTIVE), (Stage.ACTIVE, Stage.ALUMNI),
        (Stage.ALUMNI, Stage.ACTIVE), (Stage.PAUSED, Stage.OPTED_OUT), (Stage.CANDIDATE, Stage.OPTED_OUT),
    ],
)
def test_legal_stage_change_via_patch(api_a, tenant_a, no_scopes, start, target):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, stage=start)
    with time_machine.travel("2026-03-01T10:00:00Z", tick=False):
        response = patch_json(api_a, detail(advocate.pk), {"stage": target})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stage"] == target
    assert body["stage_changed_at"].startswith("2026-03-01T10:00:00")
    entry = AuditLog.objects.get(advocate=advocate, action="advocate.stage_changed")
    assert entry.data == {"from": start, "to": target}


def test_patch_to_the_same_stage_is_a_no_op(api_a, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.ACTIVE)
    assert patch_json(api_a, detail(advocate.pk), {"stage": "active"}).status_code == 200
    assert not AuditLog.objects.filter(advocate=advocate, action="advocate.stage_changed").exists()


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Stage.OPTED_OUT, Stage.ACTIVE), (Stage.OPTED_OUT, Stage.CANDIDATE), (Stage.CANDIDATE, Stage.PAUSED),
        (Stage.CANDIDATE, Stage.ALUMNI), (Stage.ALUMNI, Stage.PAUSED), (Stage.ACTIVE, Stage.INVITED),
    ],
)
def test_illegal_stage_change_is_409_invalid_transition(api_a, tenant_a, no_scopes, start, target):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, stage=start)
    error = error_of(patch_json(api_a, detail(advocate.pk), {"stage": target}), 409, "invalid_transition")
    assert error["message"]
    advocate.refresh_from_db()
    assert advocate.stage == start


def test_illegal_stage_change_with_other_fields_changes_nothing(api_a, tenant_a, no_scopes):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.OPTED_OUT, name="Before", tags=["old"])
    response = patch_json(api_a, detail(advocate.pk), {"name": "After", "tags": ["new"], "stage": "active"})
    error_of(response, 409, "invalid_transition")
    advocate.refresh_from_db()
    assert advocate.name == "Before"
    assert [t.name for t in advocate.tags.all()] == ["old"]
    assert not AuditLog.objects.filter(advocate=advocate, action="advocate.updated").exists()


def test_patch_to_another_advocates_email_in_another_case_is_409(api_a, tenant_a, no_scopes):
    other = AdvocateFactory(workspace=tenant_a.workspace, email="taken@x.com")
    mine = AdvocateFactory(workspace=tenant_a.workspace, email="mine@x.com")
    error_of(patch_json(api_a, detail(mine.pk), {"email": "TAKEN@x.com"}), 409, "duplicate_email")
    mine.refresh_from_db()
    assert mine.email == "mine@x.com" and other.email == "taken@x.com"


def test_patch_to_another_advocates_external_id_is_409(api_a, tenant_a):
    AdvocateFactory(workspace=tenant_a.workspace, external_id="crm-9")
    mine = AdvocateFactory(workspace=tenant_a.workspace)
    error_of(patch_json(api_a, detail(mine.pk), {"external_id": "crm-9"}), 409, "duplicate_external_id")


def test_patch_own_email_in_another_case_is_allowed(api_a, tenant_a):
    mine = AdvocateFactory(workspace=tenant_a.workspace, email="me@x.com")
    response = patch_json(api_a, detail(mine.pk), {"email": "ME@X.COM"})
    assert response.status_code == 200
    assert response.json()["email"] == "me@x.com"


def test_patch_email_used_only_in_workspace_b_is_allowed(api_a, tenant_a, tenant_b):
    AdvocateFactory(workspace=tenant_b.workspace, email="b-person@x.com")
    response = patch_json(api_a, detail(tenant_a.advocate.pk), {"email": "b-person@x.com"})
    assert response.status_code == 200


# --- delete = erase ---------------------------------------------------------------------------


def test_delete_erases_and_keeps_the_row(api_a, tenant_a, no_scopes):
    advocate = AdvocateFactory(
        workspace=tenant_a.workspace, name="Erin Erase", email="erin@x.com", company="Co", title="VP",
        external_id="crm-erin", tags=["vip"], stage=Stage.ACTIVE, points_balance=40,
    )
    event = ActivityEventFactory(advocate=advocate, properties={"ip": "1.2.3.4"})
    response = api_a.delete(detail(advocate.pk))
    assert response.status_code == 204
    assert response.content == b""
    advocate.refresh_from_db()
    assert advocate.email == f"erased-{advocate.pk}@erased.invalid"
    assert advocate.stage == Stage.OPTED_OUT
    assert advocate.erased_at is not None
    assert (advocate.name, advocate.company, advocate.title, advocate.external_id) == ("Erased advocate", "", "", None)
    assert advocate.points_balance == 40  # totals stay consistent
    assert not advocate.tags.exists()
    assert ActivityEvent.objects.get(pk=event.pk).properties == {}
    assert AuditLog.objects.filter(advocate=advocate, action="advocate.erased").count() == 1


def test_erased_advocate_is_still_listed_anonymised(api_a, tenant_a):
    pk = tenant_a.advocate.pk
    api_a.delete(detail(pk))
    body = api_a.get(detail(pk)).json()
    assert body["email"] == f"erased-{pk}@erased.invalid"
    assert body["stage"] == "opted_out"
    assert api_a.get(f"{URL}?q={tenant_a.advocate.email}").json()["count"] == 0


def test_delete_twice_is_idempotent(api_a, tenant_a, no_scopes):
    pk = tenant_a.advocate.pk
    assert api_a.delete(detail(pk)).status_code == 204
    first_erased_at = Advocate.objects.get(pk=pk).erased_at
    assert api_a.delete(detail(pk)).status_code == 204
    assert Advocate.objects.get(pk=pk).erased_at == first_erased_at


def test_erased_email_can_be_used_again_by_a_new_advocate(api_a, tenant_a):
    email = tenant_a.advocate.email
    api_a.delete(detail(tenant_a.advocate.pk))
    assert post_json(api_a, URL, {"email": email}).status_code == 201
