"""Manager pages as their users see them: who may open what, and the advocate list
(search, filters, sorting, pagination, empty states, CSV export, query counts).

More pages: test_pages_advocates.py (create, edit, stage, tags, export, erasure) and
test_pages_workspace.py (settings, team, invitations, API keys)."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from advocacy.models import Advocate, AdvocateType, Expressiveness, Motivation, Role, Stage
from advocacy.views import AdvocateExportView
from tests.factories import AdvocateFactory, MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db



def url(name: str, tenant, *args) -> str:
    return reverse(name, args=[tenant.workspace.slug, *args])


def listed(response) -> list[str]:
    return [a.name for a in response.context["page"].object_list]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# --- Roles -------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["workspace_settings", "team", "api_keys", "audit_log", "advocate_list"])
def test_owner_opens_settings_team_and_api_keys(client, tenant_a, page):
    client.force_login(tenant_a.owner)
    assert client.get(url(page, tenant_a)).status_code == 200


@pytest.mark.parametrize("page", ["workspace_settings", "team"])
def test_manager_reads_settings_and_team(client, tenant_a, page):
    client.force_login(tenant_a.manager)
    assert client.get(url(page, tenant_a)).status_code == 200


def test_manager_cannot_open_api_keys(client, tenant_a):
    client.force_login(tenant_a.manager)
    assert client.get(url("api_keys", tenant_a)).status_code == 403


@pytest.mark.parametrize(
    ("page", "data"),
    [
        ("workspace_settings", {"name": "Renamed", "timezone": "UTC", "currency": "USD", "max_contacts_per_30_days": 4,
                                "min_days_between_offers": 7, "rest_days_after_large_ask": 30,
                                "max_reference_calls_per_90_days": 2, "detractor_quiet_days": 90, "attribution_window_days": 90}),
        ("team", {"email": "colleague@alpha.example", "role": Role.MANAGER}),
        ("api_keys", {"name": "CRM"}),
    ],
)
def test_manager_cannot_change_settings_team_or_api_keys(client, tenant_a, no_scopes, page, data):
    client.force_login(tenant_a.manager)

    response = client.post(url(page, tenant_a), data)

    assert response.status_code == 403
    assert "owner" in response.content.decode().lower()
    tenant_a.workspace.refresh_from_db()
    assert tenant_a.workspace.name == "Company ALPHA"
    assert not tenant_a.workspace.staff_invitations.exists()
    assert tenant_a.workspace.api_keys.count() == 1


@pytest.mark.parametrize("page", ["advocate_list", "advocate_detail"])
def test_viewer_reads_the_advocates(client, tenant_a, page):
    client.force_login(tenant_a.viewer)
    args = [tenant_a.advocate.pk] if page == "advocate_detail" else []

    response = client.get(url(page, tenant_a, *args))

    assert response.status_code == 200
    assert tenant_a.advocate.name in response.content.decode()


def test_viewer_sees_no_controls_to_change_an_advocate(client, tenant_a):
    client.force_login(tenant_a.viewer)

    detail = client.get(url("advocate_detail", tenant_a, tenant_a.advocate.pk)).content.decode()
    listing = client.get(url("advocate_list", tenant_a)).content.decode()

    assert url("advocate_edit", tenant_a, tenant_a.advocate.pk) not in detail
    assert url("advocate_erase", tenant_a, tenant_a.advocate.pk) not in detail
    assert url("advocate_stage", tenant_a, tenant_a.advocate.pk) not in detail
    assert url("advocate_create", tenant_a) not in listing
    assert 'name="advocate"' not in listing


@pytest.mark.parametrize(
    ("page", "with_id", "data"),
    [
        ("advocate_create", False, {"email": "new@customer.example", "name": "New", "type": "customer",
                                    "motivation": "unknown", "expressiveness": "unknown"}),
        ("advocate_edit", True, {"email": "advocate@alpha.example", "name": "Renamed", "type": "customer",
                                 "motivation": "unknown", "expressiveness": "unknown"}),
        ("advocate_stage", True, {"stage": Stage.PAUSED}),
        ("advocate_bulk_tag", False, {"advocate": ["ADVOCATE"], "tag": "vip", "mode": "add"}),
        ("advocate_erase", True, {"confirm": "erase"}),
        ("advocate_import", False, {}),
    ],
)
def test_viewer_cannot_create_edit_stage_tag_import_or_erase(client, tenant_a, no_scopes, page, with_id, data):
    client.force_login(tenant_a.viewer)
    advocate = tenant_a.advocate
    data = {k: [str(advocate.pk)] if v == ["ADVOCATE"] else v for k, v in data.items()}
    if page == "advocate_import":
        data = {"file": io.BytesIO(b"email,name\nsneaky@example.com,Sneaky\n")}
        data["file"].name = "people.csv"

    response = client.post(url(page, tenant_a, *([advocate.pk] if with_id else [])), data)

    assert response.status_code == 403
    assert "viewer" in response.content.decode().lower()
    fresh = Advocate.objects.get(pk=advocate.pk)
    assert (fresh.name, fresh.stage, fresh.erased_at, list(fresh.tags.all())) == (advocate.name, Stage.ACTIVE, None, [])
    assert Advocate.objects.filter(workspace=tenant_a.workspace).count() == 1


def test_outsider_gets_404_on_the_workspace(client, tenant_a, outsider):
    client.force_login(outsider)
    for path in ["/w/alpha/", "/w/alpha/advocates/", f"/w/alpha/advocates/{tenant_a.advocate.pk}/"]:
        assert client.get(path).status_code == 404, path


# --- The advocate list -------------------------------------------------------------------


@pytest.fixture
def people(tenant_a, no_scopes):
    """A handful of advocates of A with varied fields (besides the fixture's own advocate)."""
    ws = tenant_a.workspace
    return {
        "ada": AdvocateFactory(workspace=ws, name="Ada Lovelace", email="ada@analytical.example", company="Analytical Engines",
                               stage=Stage.ACTIVE, type=AdvocateType.CUSTOMER, motivation=Motivation.INTRINSIC,
                               expressiveness=Expressiveness.INTROVERTED, score=90, tags=["vip", "beta"]),
        "grace": AdvocateFactory(workspace=ws, name="Grace Hopper", email="grace@navy.example", company="Navy",
                                 stage=Stage.PAUSED, type=AdvocateType.PARTNER, motivation=Motivation.EXTRINSIC,
                                 expressiveness=Expressiveness.EXTRAVERTED, score=70, tags=["vip"]),
        "linus": AdvocateFactory(workspace=ws, name="Linus Torvalds", email="linus@kernel.example", company="Kernel",
                                 stage=Stage.CANDIDATE, type=AdvocateType.EMPLOYEE, external_id="CRM-42",
                                 motivation=Motivation.INTRINSIC, expressiveness=Expressiveness.AMBIVERTED, score=10),
        "barbara": AdvocateFactory(workspace=ws, name="Barbara Liskov", email="barbara@mit.example", company="MIT",
                                   stage=Stage.OPTED_OUT, score=50, tags=["beta"]),
    }


def test_list_shows_every_advocate_sorted_by_name(client, tenant_a, people):
    client.force_login(tenant_a.manager)

    response = client.get(url("advocate_list", tenant_a))

    assert listed(response) == ["Ada Lovelace", "Advocate of alpha", "Barbara Liskov", "Grace Hopper", "Linus Torvalds"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "lovelace"}, ["Ada Lovelace"]),
        ({"q": "NAVY.example"}, ["Grace Hopper"]),
        ({"q": "kernel"}, ["Linus Torvalds"]),
        ({"q": "CRM-42"}, ["Linus Torvalds"]),
        ({"stage": "paused"}, ["Grace Hopper"]),
        ({"stage": ["paused", "candidate"]}, ["Grace Hopper", "Linus Torvalds"]),
        ({"tag": "vip"}, ["Ada Lovelace", "Grace Hopper"]),
        ({"tag": " VIP "}, ["Ada Lovelace", "Grace Hopper"]),
        ({"type": "employee"}, ["Linus Torvalds"]),
        ({"motivation": "intrinsic"}, ["Ada Lovelace", "Linus Torvalds"]),
        ({"expressiveness": "extraverted"}, ["Grace Hopper"]),
        ({"tag": "beta", "stage": "active"}, ["Ada Lovelace"]),
        ({"q": "li", "motivation": "intrinsic"}, ["Linus Torvalds"]),
    ],
)
def test_list_search_and_filters(client, tenant_a, people, query, expected):
    client.force_login(tenant_a.viewer)

    response = client.get(url("advocate_list", tenant_a), query)

    assert response.status_code == 200
    assert listed(response) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-score", ["Ada Lovelace", "Grace Hopper", "Barbara Liskov", "Linus Torvalds", "Advocate of alpha"]),
        ("-name", ["Linus Torvalds", "Grace Hopper", "Barbara Liskov", "Advocate of alpha", "Ada Lovelace"]),
        ("stage", ["Ada Lovelace", "Advocate of alpha", "Linus Torvalds", "Barbara Liskov", "Grace Hopper"]),
    ],
)
def test_list_sorting(client, tenant_a, people, sort, expected):
    client.force_login(tenant_a.manager)

    response = client.get(url("advocate_list", tenant_a), {"sort": sort})

    assert listed(response) == expected


def test_list_with_an_unknown_filter_value_says_so_and_lists_everyone(client, tenant_a, people):
    client.force_login(tenant_a.manager)

    response = client.get(url("advocate_list", tenant_a), {"stage": "royalty"})

    assert response.status_code == 200
    assert "Some filters were not understood and were ignored." in messages_of(response)
    assert len(listed(response)) == 5


def test_list_paginates_by_50(client, tenant_a, no_scopes):
    AdvocateFactory.create_batch(119, workspace=tenant_a.workspace)  # 120 with the fixture's advocate
    client.force_login(tenant_a.manager)

    first = client.get(url("advocate_list", tenant_a))
    last = client.get(url("advocate_list", tenant_a), {"page": 3})
    beyond = client.get(url("advocate_list", tenant_a), {"page": 99})

    assert len(listed(first)) == 50
    assert "Page 1 of 3 · 120 in all" in first.content.decode()
    assert len(listed(last)) == 20
    assert listed(beyond) == listed(last)
    assert not set(listed(first)) & set(listed(last))


def test_pagination_links_keep_the_filters(client, tenant_a, no_scopes):
    AdvocateFactory.create_batch(60, workspace=tenant_a.workspace, stage=Stage.PAUSED)
    client.force_login(tenant_a.manager)

    response = client.get(url("advocate_list", tenant_a), {"stage": "paused", "page": 1})

    assert 'href="?stage=paused&page=2"' in response.content.decode()


def test_list_of_a_workspace_without_advocates_says_how_to_start(client, db):
    owner = MembershipFactory(workspace=WorkspaceFactory(slug="empty"), role=Role.OWNER).user
    client.force_login(owner)

    body = client.get("/w/empty/advocates/").content.decode()

    assert "No advocates yet" in body
    assert "Import your customers from a CSV" in body


def test_list_with_no_matches_offers_to_clear_the_filters(client, tenant_a, people):
    client.force_login(tenant_a.manager)

    body = client.get(url("advocate_list", tenant_a), {"q": "nobody-like-this"}).content.decode()

    assert "No advocates match these filters" in body
    assert "Clear the filters" in body
    assert "No advocates yet" not in body


def test_list_never_shows_another_workspace(client, tenant_a, tenant_b):
    client.force_login(tenant_a.owner)

    response = client.get(url("advocate_list", tenant_a), {"q": "advocate"})

    assert listed(response) == ["Advocate of alpha"]


def _list_queries(client, tenant) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url("advocate_list", tenant))
    assert response.status_code == 200
    return len(ctx.captured_queries)


# Session, user, membership, the workspace switcher's memberships, count, the tag filter's
# choices, the page of advocates, their tags (one prefetch): the same for any number.
LIST_QUERIES = 9  # …and the Fatigue column: every active person's holds in one query


def test_list_runs_the_same_number_of_queries_for_10_and_100_advocates(client, tenant_a, no_scopes):
    Advocate.objects.filter(pk=tenant_a.advocate.pk).delete()
    client.force_login(tenant_a.manager)
    for n in range(10):
        AdvocateFactory(workspace=tenant_a.workspace, tags=[f"t{n % 3}", "common"])
    ten = _list_queries(client, tenant_a)
    for n in range(90):
        AdvocateFactory(workspace=tenant_a.workspace, tags=[f"t{n % 7}", "common"])
    hundred = _list_queries(client, tenant_a)

    assert ten == hundred == LIST_QUERIES


# --- CSV export --------------------------------------------------------------------------


def test_csv_export_has_the_header_and_every_advocate(client, tenant_a, tenant_b, people):
    client.force_login(tenant_a.viewer)

    response = client.get(url("advocate_export", tenant_a))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="alpha-advocates-' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == AdvocateExportView.HEADER
    emails = [r[1] for r in rows[1:]]
    assert sorted(emails) == sorted([p.email for p in people.values()] + [tenant_a.advocate.email])
    assert tenant_b.advocate.email not in emails


def test_csv_export_honours_the_filters(client, tenant_a, people):
    client.force_login(tenant_a.manager)

    rows = csv_rows(client.get(url("advocate_export", tenant_a), {"tag": "vip", "stage": "active"}))

    assert rows[0] == AdvocateExportView.HEADER
    assert len(rows) == 2
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["email"] == "ada@analytical.example"
    assert record["tags"].split(";") == ["beta", "vip"]
    assert record["stage"] == "active"
    assert record["motivation"] == "intrinsic"
    assert record["score"] == "90"


def test_csv_export_link_on_the_list_carries_the_filters(client, tenant_a, people):
    client.force_login(tenant_a.manager)

    body = client.get(url("advocate_list", tenant_a), {"q": "ada", "tag": "vip"}).content.decode()

    assert f'href="{url("advocate_export", tenant_a)}?q=ada&amp;tag=vip"' in body


def test_csv_export_of_a_search_with_no_match_has_only_the_header(client, tenant_a, people):
    client.force_login(tenant_a.manager)

    rows = csv_rows(client.get(url("advocate_export", tenant_a), {"q": "nobody-like-this"}))

    assert rows == [AdvocateExportView.HEADER]


def test_csv_export_cells_cannot_run_as_spreadsheet_formulas(client, tenant_a, no_scopes):
    """Names come from people and integrations; a cell starting with = + - @ would run as a
    formula in a spreadsheet (CSV injection), so such text is exported with a leading '."""
    AdvocateFactory(workspace=tenant_a.workspace, name='=HYPERLINK("https://evil.example","x")', email="f@x.example",
                    company="+1 Corp", title="-CEO", external_id="@ext", tags=["=cmd"])
    client.force_login(tenant_a.manager)

    rows = csv_rows(client.get(url("advocate_export", tenant_a), {"q": "f@x.example"}))

    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["name"] == """'=HYPERLINK("https://evil.example","x")"""
    assert (record["company"], record["title"], record["external_id"], record["tags"]) == ("'+1 Corp", "'-CEO", "'@ext", "'=cmd")
    assert record["email"] == "f@x.example"
