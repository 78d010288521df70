"""The candidates page (best score first, with the reasons; filters, pagination, CSV, bulk
invite of the top N or the selected through the programs' bulk-invite confirmation), the
score weights page and the breakdown on the advocate's page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from advocacy.models import Advocate, AuditLog, Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from insights.scores import DEFAULT_WEIGHTS, recompute_scores
from nps.services import record_api_response
from programs.models import Invitation
from tests.factories import ActivityEventFactory, AdvocateFactory
from tests.programs.pages import post_forms, text, url

pytestmark = pytest.mark.django_db


def message(**overrides) -> dict:
    return {"program": "", "inviter_name": "Maria Manager", "note": "Hi, we would love to have you.",
            "why_chosen": "You help everyone.", "whats_in_it": "Early access.",
            "what_taking_part_looks_like": "One small ask a month."} | overrides


def candidate(tenant, score=0, **fields) -> Advocate:
    person = AdvocateFactory(workspace=tenant.workspace, stage=Stage.CANDIDATE, **fields)
    if score:
        Advocate.objects.with_scopes_disabled().filter(pk=person.pk).update(score=score)
    return person


def rescore(tenant):
    with workspace_scope(tenant.workspace):
        recompute_scores(workspace=tenant.workspace)


@pytest.fixture
def crowd(tenant_a):
    return {
        "low": candidate(tenant_a, 10, name="Low Lou", tags=["vip"]),
        "high": candidate(tenant_a, 80, name="High Hana", tags=["vip"], type="partner"),
        "mid": candidate(tenant_a, 50, name="Mid Max", company="Acme"),
        "active": AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.ACTIVE, name="Active Ann"),
    }


def names(response) -> list[str]:
    body = text(response)
    found = [(body.find(n), n) for n in ("High Hana", "Mid Max", "Low Lou", "Active Ann") if n in body]
    return [n for _, n in sorted(found)]


def test_candidates_are_listed_best_score_first_without_other_stages(client, tenant_a, crowd):
    client.force_login(tenant_a.viewer)
    response = client.get(url("insights_candidates", tenant_a))
    assert response.status_code == 200
    assert names(response) == ["High Hana", "Mid Max", "Low Lou"]


def test_a_promoter_rises_to_the_top_of_the_candidates_with_the_reason(client, tenant_a, crowd, django_capture_on_commit_callbacks):
    newcomer = candidate(tenant_a, name="Nora Newcomer")
    others = [candidate(tenant_a, name=f"Quiet {n}") for n in range(3)]
    rescore(tenant_a)
    with workspace_scope(tenant_a.workspace), django_capture_on_commit_callbacks(execute=True):
        record_api_response(workspace=tenant_a.workspace, advocate=newcomer, score=10)
    fresh = Advocate.objects.with_scopes_disabled().get(pk=newcomer.pk)
    assert fresh.score > max(Advocate.objects.with_scopes_disabled().get(pk=o.pk).score for o in others)
    client.force_login(tenant_a.manager)
    body = text(client.get(url("insights_candidates", tenant_a)))
    assert body.index("Nora Newcomer") < min(body.index(f"Quiet {n}") for n in range(3))
    assert f"Promoter (10) on {timezone.now().day} " in body


def test_each_row_shows_its_top_reasons_from_the_breakdown(client, tenant_a):
    person = candidate(tenant_a, name="Eve Engaged", last_activity_at=timezone.now() - timedelta(hours=1))
    candidate(tenant_a, name="Quiet Quinn")
    for _ in range(4):
        ActivityEventFactory(advocate=person, kind="email_open", occurred_at=timezone.now() - timedelta(days=1))
    rescore(tenant_a)
    client.force_login(tenant_a.manager)
    body = text(client.get(url("insights_candidates", tenant_a)))
    assert "4 engagement events in the last 90 days" in body and "Last active today" in body
    assert "Nothing stands out yet" in body  # the others


@pytest.mark.parametrize(("query", "expected"), [
    ({"tag": "vip"}, ["High Hana", "Low Lou"]),
    ({"tag": " VIP "}, ["High Hana", "Low Lou"]),
    ({"type": "partner"}, ["High Hana"]),
    ({"min_score": "50"}, ["High Hana", "Mid Max"]),
    ({"q": "acme"}, ["Mid Max"]),
    ({"q": "hana", "min_score": "90"}, []),
])
def test_candidates_filter_by_tag_type_minimum_score_and_search(client, tenant_a, crowd, query, expected):
    client.force_login(tenant_a.manager)
    response = client.get(url("insights_candidates", tenant_a), query)
    assert response.status_code == 200 and names(response) == expected
    if not expected:
        assert "No candidates match these filters" in text(response)


@pytest.mark.parametrize("query", [
    {"min_score": "abc"}, {"min_score": "101"}, {"min_score": "-1"}, {"min_score": "9" * 40}, {"type": "robot"},
    {"q": "a\x00b"}, {"tag": "x\x00"}, {"page": "zz"}, {"min_score": "٣"},
])
def test_bad_filters_never_500(client, tenant_a, crowd, query):
    client.force_login(tenant_a.manager)
    assert client.get(url("insights_candidates", tenant_a), query).status_code == 200
    assert client.get(url("insights_candidates_export", tenant_a), query).status_code == 200


def test_a_filter_that_is_not_understood_is_ignored_with_a_message(client, tenant_a, crowd):
    client.force_login(tenant_a.manager)
    response = client.get(url("insights_candidates", tenant_a), {"min_score": "lots", "tag": "vip"}, follow=True)
    assert "Some filters were not understood and were ignored" in text(response)
    assert names(response) == ["High Hana", "Low Lou"]


def test_the_candidates_page_runs_a_fixed_number_of_queries(client, tenant_a, django_assert_num_queries):
    client.force_login(tenant_a.manager)
    for n in range(3):
        candidate(tenant_a, n, tags=["t"])
    client.get(url("insights_candidates", tenant_a))  # warm the session
    with django_assert_num_queries(8) as few:
        client.get(url("insights_candidates", tenant_a))
    for n in range(40):
        candidate(tenant_a, n, tags=["t", f"x{n}"])
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(url("insights_candidates", tenant_a))


def test_candidates_are_paginated(client, tenant_a):
    for n in range(55):
        candidate(tenant_a, n % 100, name=f"Person {n:02d}")
    client.force_login(tenant_a.manager)
    first = text(client.get(url("insights_candidates", tenant_a), {"min_score": "0"}))
    assert "Page 1 of 2 · 55 in all" in first and "Person 54" in first and "Person 04" not in first
    second = text(client.get(url("insights_candidates", tenant_a), {"min_score": "0", "page": "2"}))
    assert "Person 04" in second and "Person 54" not in second


def test_candidates_export_as_csv_best_first_and_formula_safe(client, tenant_a, crowd):
    candidate(tenant_a, 30, name="=cmd()")
    client.force_login(tenant_a.viewer)
    response = client.get(url("insights_candidates_export", tenant_a), {"min_score": "20"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["id", "name", "email"] and "reasons" in rows[0]
    assert [r[1] for r in rows[1:]] == ["High Hana", "Mid Max", "'=cmd()"]
    assert [r[7] for r in rows[1:]] == ["80", "50", "30"]


def test_another_workspaces_candidates_are_never_shown(client, tenant_a, tenant_b, crowd):
    AdvocateFactory(workspace=tenant_b.workspace, stage=Stage.CANDIDATE, name="Beta Bea")
    client.force_login(tenant_a.manager)
    assert "Beta Bea" not in text(client.get(url("insights_candidates", tenant_a)))
    rows = b"".join(client.get(url("insights_candidates_export", tenant_a)).streaming_content).decode()
    assert "Beta Bea" not in rows
    client.force_login(tenant_b.manager)
    assert client.get(url("insights_candidates", tenant_a)).status_code == 404


# --- Bulk invite -------------------------------------------------------------------------------


def test_invite_the_top_n_shows_the_programs_confirmation(client, tenant_a, crowd):
    client.force_login(tenant_a.manager)
    page = client.get(url("insights_candidates", tenant_a))
    assert f'action="{url("insights_candidates_invite", tenant_a)}"' in page.content.decode()
    body = text(client.get(url("insights_candidates_invite", tenant_a), {"top": "2"}))
    assert "2 will be invited of the 2 advocates this filter shows." in body and "Send 2 invitations" in body


def test_inviting_the_top_n_invites_the_best_scored_of_the_filter(client, tenant_a, crowd, django_capture_on_commit_callbacks, mailoutbox):
    client.force_login(tenant_a.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("insights_candidates_invite", tenant_a), message(query="tag=vip&top=1"))
    assert response.status_code == 302
    with scopes_disabled():
        assert list(Invitation.objects.values_list("advocate_id", flat=True)) == [crowd["high"].pk]
        assert Advocate.objects.get(pk=crowd["high"].pk).stage == Stage.INVITED
    assert len(mailoutbox) == 1


def test_inviting_the_selected_candidates(client, tenant_a, crowd, django_capture_on_commit_callbacks):
    client.force_login(tenant_a.manager)
    chosen = [crowd["low"].pk, crowd["mid"].pk]
    body = text(client.get(url("insights_candidates_invite", tenant_a), {"id": chosen}))
    assert "2 will be invited of the 2 advocates" in body
    query = "&".join(f"id={pk}" for pk in chosen)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url("insights_candidates_invite", tenant_a), message(query=query)).status_code == 302
    with scopes_disabled():
        assert set(Invitation.objects.values_list("advocate_id", flat=True)) == set(chosen)


def test_selecting_another_workspaces_people_invites_nobody(client, tenant_a, tenant_b):
    foreign = AdvocateFactory(workspace=tenant_b.workspace, stage=Stage.CANDIDATE)
    client.force_login(tenant_a.manager)
    body = text(client.get(url("insights_candidates_invite", tenant_a), {"id": [foreign.pk]}))
    assert "None of the chosen people is in this workspace" in body
    assert client.post(url("insights_candidates_invite", tenant_a), message(query=f"id={foreign.pk}")).status_code == 400
    with scopes_disabled():
        assert not Invitation.objects.exists()


@pytest.mark.parametrize("top", ["", "0", "abc", "1001", "٣", "9" * 30])
def test_a_bad_number_to_invite_is_explained_not_a_500(client, tenant_a, crowd, top):
    client.force_login(tenant_a.manager)
    response = client.get(url("insights_candidates_invite", tenant_a), {"top": top})
    assert response.status_code == 200 and "a whole number from 1 to 1,000" in text(response)
    assert client.post(url("insights_candidates_invite", tenant_a), message(query=f"top={top}")).status_code == 400


def test_viewers_see_candidates_but_cannot_invite(client, tenant_a, crowd):
    client.force_login(tenant_a.viewer)
    html = client.get(url("insights_candidates", tenant_a)).content.decode()
    assert "Review and invite" not in html and "Invite the selected" not in html
    assert client.get(url("insights_candidates_invite", tenant_a), {"top": "1"}).status_code == 403
    assert client.post(url("insights_candidates_invite", tenant_a), message(query="top=1")).status_code == 403


# --- Score weights page ------------------------------------------------------------------------


def test_viewers_read_the_weights_without_a_form(client, tenant_a):
    client.force_login(tenant_a.viewer)
    response = client.get(url("insights_score", tenant_a))
    body = text(response)
    assert response.status_code == 200 and "Latest NPS" in body and "20%" in body
    assert post_forms(response) == []
    assert client.post(url("insights_score", tenant_a), {**DEFAULT_WEIGHTS, "nps": 50}).status_code == 403
    assert client.post(url("insights_score", tenant_a), {"recompute": "1"}).status_code == 403


def test_a_manager_changes_the_weights_audited(client, tenant_a, django_capture_on_commit_callbacks):
    client.force_login(tenant_a.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("insights_score", tenant_a), {**DEFAULT_WEIGHTS, "nps": 50, "recency": 0})
    assert response.status_code == 302
    tenant_a.workspace.refresh_from_db()
    assert tenant_a.workspace.score_weights == {**DEFAULT_WEIGHTS, "nps": 50, "recency": 0}
    with scopes_disabled():
        assert AuditLog.objects.filter(workspace=tenant_a.workspace, action="score.weights_changed", actor=tenant_a.manager).exists()
        assert Advocate.objects.get(pk=tenant_a.advocate.pk).score_breakdown["signals"]["nps"]["weight"] == 50
    body = text(client.get(response["Location"]))
    assert "Score weights saved" in body and "40%" in body  # 50 of 125


@pytest.mark.parametrize(("posted", "error"), [
    ({**DEFAULT_WEIGHTS, "nps": "-1"}, "greater than or equal to 0"),
    ({**DEFAULT_WEIGHTS, "nps": "1001"}, "less than or equal to 1000"),
    ({**DEFAULT_WEIGHTS, "nps": "abc"}, "Enter a whole number"),
    ({**DEFAULT_WEIGHTS, "nps": "1\x00"}, "Enter a whole number"),
    ({**DEFAULT_WEIGHTS, "nps": "9" * 40}, "less than or equal to 1000"),
    ({k: "0" for k in DEFAULT_WEIGHTS}, "at least one signal a weight above 0"),
    ({"nps": "5"}, "This field is required"),
])
def test_bad_weights_are_shown_on_the_form(client, tenant_a, posted, error):
    client.force_login(tenant_a.owner)
    response = client.post(url("insights_score", tenant_a), posted)
    assert response.status_code == 400 and error in text(response)
    tenant_a.workspace.refresh_from_db()
    assert tenant_a.workspace.score_weights == {}


def test_recompute_now_recomputes_the_workspaces_scores(client, tenant_a, django_capture_on_commit_callbacks):
    client.force_login(tenant_a.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("insights_score", tenant_a), {"recompute": "1"})
    assert response.status_code == 302
    with scopes_disabled():
        assert Advocate.objects.get(pk=tenant_a.advocate.pk).score_breakdown["signals"]
    assert "Scores are being recomputed" in text(client.get(response["Location"]))


# --- The advocate's page -----------------------------------------------------------------------


def test_the_advocates_page_shows_the_score_breakdown(client, tenant_a):
    person = candidate(tenant_a)
    client.force_login(tenant_a.viewer)
    assert "Not computed yet" in text(client.get(url("advocate_detail", tenant_a, person.pk)))
    ActivityEventFactory(advocate=person, kind="event_attended", occurred_at=timezone.now() - timedelta(days=2))
    rescore(tenant_a)
    body = text(client.get(url("advocate_detail", tenant_a, person.pk)))
    assert "Advocacy score: 7 / 100" in body  # nps 0.3x20 + engagement 0.05x20 = 7
    assert "1 engagement event in the last 90 days" in body and "No NPS answer yet" in body
    assert body.index("Latest NPS") < body.index("Tenure") < body.index("Recent activity")


def test_the_score_page_shows_how_scores_are_spread(client, tenant_a, tenant_b):
    for score in (5, 25, 30, 85, 100):
        candidate(tenant_a, score)
    AdvocateFactory(workspace=tenant_b.workspace, stage=Stage.CANDIDATE)
    client.force_login(tenant_a.viewer)
    body = text(client.get(url("insights_score", tenant_a)))
    # the fixture's advocate scores 0
    assert "0 to 19 2 20 to 39 2 40 to 59 0 60 to 79 0 80 to 100 2" in body
