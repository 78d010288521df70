"""/api/v1/nps/surveys/ and /api/v1/nps/responses/: CRUD with the service's per-field
messages, delete refused with 409 once sent, the summary (NPS with one decimal or null,
counts, rate, trend), send now, the answers list with its filters and a fixed number of
queries, and answers posted by integrations (by id, email or external id; a repeated
external_id is the first answer; Idempotency-Key replays)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advocacy.models import Task, TaskKind
from advocacy.scoping import scopes_disabled
from nps.models import Survey, SurveyResponse, SurveySend
from tests.factories import (
    AdvocateFactory,
    SurveyFactory,
    SurveyResponseFactory,
    SurveySendFactory,
    TagFactory,
)

from .helpers import error_of, patch_json, post_json

pytestmark = pytest.mark.django_db

SURVEYS = "/api/v1/nps/surveys/"
RESPONSES = "/api/v1/nps/responses/"
# Authenticate the key (1), count (1), page (1).
LIST_QUERIES = 3


def answers(survey, scores, **kwargs):
    return [SurveyResponseFactory(send=SurveySendFactory(survey=survey), score=s, **kwargs) for s in scores]


# --- Surveys ------------------------------------------------------------------------------


def test_create_a_tag_survey_by_tag_name_and_read_it_back(api_a, tenant_a):
    TagFactory(workspace=tenant_a.workspace, name="enterprise")
    response = post_json(api_a, SURVEYS, {"name": "Enterprise NPS", "audience": "tag", "audience_tag": "enterprise",
                                          "channels": ["email"], "schedule": "recurring", "every_days": 90})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["audience"], body["audience_tag"], body["channels"], body["every_days"], body["status"]) == (
        "tag", "enterprise", ["email"], 90, "draft")
    got = api_a.get(f"{SURVEYS}{body['id']}/").json()
    assert got["name"] == "Enterprise NPS" and got["rounds"] == 0


@pytest.mark.parametrize(("payload", "field"), [
    ({"name": "T", "audience": "tag"}, "audience_tag"),
    ({"name": "T", "audience": "tag", "audience_tag": "nope"}, "audience_tag"),
    ({"name": "T", "schedule": "recurring"}, "every_days"),
    ({"name": "T", "channels": []}, "channels"),
    ({"name": "T", "channels": ["sms"]}, "channels"),
    ({"name": "T", "audience": "everyone"}, "audience"),
    ({"name": "T", "schedule": "recurring", "every_days": "\u0661\u0662"}, "every_days"),
    ({"name": "T", "schedule": "recurring", "every_days": 10**30}, "every_days"),
    ({"name": "T", "schedule": "recurring", "every_days": True}, "every_days"),
    ({"name": ""}, "name"),
    ({"name": "T", "status": "done"}, "status"),
])
def test_bad_surveys_are_400_with_the_field_named(api_a, tenant_a, payload, field):
    error = error_of(post_json(api_a, SURVEYS, payload), 400)
    assert field in error.get("fields", {}), error


def test_nul_in_a_survey_is_400(api_a, tenant_a):
    error_of(post_json(api_a, SURVEYS, {"name": "x\u0000y"}), 400)


def test_a_taken_name_is_400_on_name(api_a, tenant_a):
    SurveyFactory(workspace=tenant_a.workspace, name="Quarterly")
    error = error_of(post_json(api_a, SURVEYS, {"name": "quarterly"}), 400)
    assert "name" in error["fields"]


def test_patch_changes_only_what_is_given(api_a, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, audience="type", audience_type="partner")
    response = patch_json(api_a, f"{SURVEYS}{survey.pk}/", {"status": "active"})
    assert response.status_code == 200, response.content
    assert response.json()["audience_type"] == "partner" and response.json()["status"] == "active"
    assert response.json()["next_run_at"] is not None


def test_delete_a_sent_survey_is_409_and_a_draft_is_204(api_a, tenant_a):
    sent = SurveyFactory(workspace=tenant_a.workspace)
    SurveySendFactory(survey=sent)
    error_of(api_a.delete(f"{SURVEYS}{sent.pk}/"), 409, "survey_has_sends")
    draft = SurveyFactory(workspace=tenant_a.workspace)
    assert api_a.delete(f"{SURVEYS}{draft.pk}/").status_code == 204
    with scopes_disabled():
        assert list(Survey.objects.values_list("pk", flat=True)) == [sent.pk]


def test_another_workspaces_survey_is_404_everywhere(api_a, tenant_b):
    foreign = SurveyFactory(workspace=tenant_b.workspace)
    for response in (api_a.get(f"{SURVEYS}{foreign.pk}/"), api_a.get(f"{SURVEYS}{foreign.pk}/summary/"),
                     api_a.post(f"{SURVEYS}{foreign.pk}/send/"), api_a.delete(f"{SURVEYS}{foreign.pk}/")):
        error_of(response, 404)


def test_survey_list_runs_a_fixed_number_of_queries(api_a, tenant_a):
    tag = TagFactory(workspace=tenant_a.workspace)
    SurveyFactory(workspace=tenant_a.workspace, audience="tag", audience_tag=tag)
    api_a.get(SURVEYS)  # the key's first use of the day is recorded once
    with CaptureQueriesContext(connection) as one:
        assert api_a.get(SURVEYS).status_code == 200
    for _ in range(5):
        SurveyFactory(workspace=tenant_a.workspace, audience="tag", audience_tag=TagFactory(workspace=tenant_a.workspace))
    with CaptureQueriesContext(connection) as six:
        body = api_a.get(SURVEYS).json()
    assert body["count"] == 6 and len(six) == len(one) == LIST_QUERIES


@time_machine.travel(datetime(2026, 6, 15, 12, tzinfo=UTC), tick=False)
def test_summary_has_nps_with_one_decimal_counts_rate_and_months(api_a, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    answers(survey, [10, 9, 0], answered_at=datetime(2026, 6, 1, tzinfo=UTC))
    SurveySendFactory(survey=survey)
    body = api_a.get(f"{SURVEYS}{survey.pk}/summary/?months=3").json()
    assert {k: body[k] for k in ("nps", "responses", "promoters", "passives", "detractors", "sent", "response_rate")} == {
        "nps": 33.3, "responses": 3, "promoters": 2, "passives": 0, "detractors": 1, "sent": 4, "response_rate": 75.0}
    assert [m["month"] for m in body["by_month"]] == ["2026-04", "2026-05", "2026-06"]
    assert body["by_month"][0]["nps"] is None and body["by_month"][2]["nps"] == 33.3


def test_summary_of_a_survey_without_answers_is_null_not_zero(api_a, tenant_a):
    body = api_a.get(f"{SURVEYS}{SurveyFactory(workspace=tenant_a.workspace).pk}/summary").json()
    assert body["nps"] is None and body["response_rate"] is None and body["responses"] == 0


@pytest.mark.parametrize("months", ["0", "61", "abc", "\u0661\u0662", "99999999999999999999"])
def test_summary_refuses_bad_months(api_a, tenant_a, months):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    error_of(api_a.get(f"{SURVEYS}{survey.pk}/summary/?months={months}"), 400)


def test_send_now_sends_a_round_and_says_how_many(api_a, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, status="active", audience="type", audience_type="partner")
    people = [AdvocateFactory(workspace=tenant_a.workspace, type="partner") for _ in range(2)]
    response = api_a.post(f"{SURVEYS}{survey.pk}/send/")
    assert response.status_code == 200, response.content
    assert response.json() == {"round": 1, "sent": 2, "held": 0}
    with scopes_disabled():
        assert set(SurveySend.objects.values_list("advocate_id", flat=True)) == {p.pk for p in people}


def test_send_now_with_an_idempotency_key_replays_instead_of_sending_another_round(api_a, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, status="active", schedule="recurring", every_days=30)
    AdvocateFactory(workspace=tenant_a.workspace)
    first = api_a.post(f"{SURVEYS}{survey.pk}/send/", HTTP_IDEMPOTENCY_KEY="send-1")
    again = api_a.post(f"{SURVEYS}{survey.pk}/send/", HTTP_IDEMPOTENCY_KEY="send-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    with scopes_disabled():
        assert Survey.objects.get(pk=survey.pk).rounds == 1


def test_send_now_of_a_done_survey_is_409(api_a, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, status="done", rounds=1)
    error_of(api_a.post(f"{SURVEYS}{survey.pk}/send/"), 409)


# --- Responses ----------------------------------------------------------------------------


def test_post_an_answer_by_email_runs_the_detractor_loop(api_a, tenant_a):
    person = AdvocateFactory(workspace=tenant_a.workspace, email="Grace@Example.com")
    response = post_json(api_a, RESPONSES, {"advocate_email": "grace@example.com", "score": 3, "comment": "Slow support"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["advocate"], body["score"], body["category"], body["channel"], body["survey"]) == (
        person.pk, 3, "detractor", "api", None)
    with scopes_disabled():
        task = Task.objects.get(pk=body["follow_up_task"])
    assert task.kind == TaskKind.DETRACTOR and "Slow support" in task.detail


def test_a_repeated_external_id_returns_the_first_answer_with_200(api_a, tenant_a):
    person = AdvocateFactory(workspace=tenant_a.workspace, external_id="crm-7")
    first = post_json(api_a, RESPONSES, {"advocate_external_id": "crm-7", "score": 9, "external_id": "tf-1"})
    again = post_json(api_a, RESPONSES, {"advocate": person.pk, "score": 2, "external_id": "tf-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["score"] == 9
    with scopes_disabled():
        assert SurveyResponse.objects.count() == 1


def test_idempotency_key_replays_and_refuses_another_body(api_a, tenant_a):
    person = AdvocateFactory(workspace=tenant_a.workspace)
    first = post_json(api_a, RESPONSES, {"advocate": person.pk, "score": 10}, HTTP_IDEMPOTENCY_KEY="k1")
    replay = post_json(api_a, RESPONSES, {"advocate": person.pk, "score": 10}, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true" and replay.json()["id"] == first.json()["id"]
    error_of(post_json(api_a, RESPONSES, {"advocate": person.pk, "score": 0}, HTTP_IDEMPOTENCY_KEY="k1"), 409)
    with scopes_disabled():
        assert SurveyResponse.objects.count() == 1


@pytest.mark.parametrize("score", [11, -1, "10.0", 10.0, "\u0661\u0660", True, None, "", 10**30, "x"])
def test_scores_outside_0_to_10_are_400(api_a, tenant_a, score):
    person = AdvocateFactory(workspace=tenant_a.workspace)
    error = error_of(post_json(api_a, RESPONSES, {"advocate": person.pk, "score": score}), 400)
    assert "score" in error["fields"]


@pytest.mark.parametrize("who", [{}, {"advocate": 1, "advocate_email": "a@b.example"}, {"advocate": "abc"},
                                 {"advocate_email": "not-an-email"}])
def test_the_person_must_be_given_exactly_once(api_a, tenant_a, who):
    error_of(post_json(api_a, RESPONSES, {"score": 5, **who}), 400)


def test_people_and_surveys_of_another_workspace_are_404(api_a, tenant_a, tenant_b):
    foreign = AdvocateFactory(workspace=tenant_b.workspace, email="b@b.example")
    error_of(post_json(api_a, RESPONSES, {"advocate": foreign.pk, "score": 5}), 404)
    error_of(post_json(api_a, RESPONSES, {"advocate_email": "b@b.example", "score": 5}), 404)
    mine = AdvocateFactory(workspace=tenant_a.workspace)
    error_of(post_json(api_a, RESPONSES, {"advocate": mine.pk, "score": 5,
                                          "survey": SurveyFactory(workspace=tenant_b.workspace).pk}), 404)


def test_comment_with_nul_is_400(api_a, tenant_a):
    person = AdvocateFactory(workspace=tenant_a.workspace)
    error_of(post_json(api_a, RESPONSES, {"advocate": person.pk, "score": 5, "comment": "a\u0000b"}), 400)


def test_responses_list_filters_and_runs_a_fixed_number_of_queries(api_a, tenant_a, tenant_b):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    other = SurveyFactory(workspace=tenant_a.workspace)
    answers(survey, [10])
    api_a.get(RESPONSES)  # the key's first use of the day is recorded once
    with CaptureQueriesContext(connection) as one:
        assert api_a.get(RESPONSES).status_code == 200
    old = answers(survey, [0], answered_at=datetime.now(UTC) - timedelta(days=40))[0]
    answers(survey, [8, 2])
    answers(other, [9])
    answers(SurveyFactory(workspace=tenant_b.workspace), [1, 1])
    with CaptureQueriesContext(connection) as five:
        body = api_a.get(RESPONSES).json()
    assert body["count"] == 5 and len(five) == len(one) == LIST_QUERIES
    assert api_a.get(f"{RESPONSES}?survey={survey.pk}").json()["count"] == 4
    assert api_a.get(f"{RESPONSES}?survey={survey.pk}&category=detractor").json()["count"] == 2
    cutoff = (datetime.now(UTC) - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    assert api_a.get(RESPONSES, {"answered_before": cutoff}).json()["results"][0]["id"] == old.pk
    assert api_a.get(RESPONSES, {"answered_after": cutoff}).json()["count"] == 4
    assert api_a.get(f"{RESPONSES}?advocate={old.advocate_id}").json()["count"] == 1


@pytest.mark.parametrize("query", ["category=nope", "survey=abc", "answered_after=yesterday", "survey=99999999999999999999",
                                   "advocate=%00"])
def test_bad_filters_are_400_not_500(api_a, tenant_a, query):
    assert api_a.get(f"{RESPONSES}?{query}").status_code == 400


def test_schema_documents_the_nps_endpoints(api_a):
    from rest_framework.test import APIClient

    schema = APIClient().get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/api/v1/nps/surveys/{id}/summary/" in paths or "/api/v1/nps/surveys/{id}/summary" in paths
    assert any(p.startswith("/api/v1/nps/responses") for p in paths)


@pytest.mark.parametrize("value", ["0613-06-19T04:15:34-22:15", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_response_list_date_filters_at_the_edges_of_time_answer_400_or_200_never_500(api_a, value):
    for name in ("answered_after", "answered_before"):
        response = api_a.get("/api/v1/nps/responses/", {name: value})
        assert response.status_code in (200, 400), response.content


# --- Old answers from integrations ------------------------------------------------------------------


@pytest.mark.parametrize("when", ["1999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_answered_at_is_between_2000_and_tomorrow_else_400(api_a, tenant_a, when):
    response = post_json(api_a, RESPONSES, {"advocate": tenant_a.advocate.pk, "score": 5, "answered_at": when})
    error = error_of(response, 400)
    assert "answered_at" in error["fields"], error
    with scopes_disabled():
        assert not SurveyResponse.objects.exists()


def test_answered_at_may_be_a_day_ahead_at_most(api_a, tenant_a):
    soon = (datetime.now(UTC) + timedelta(hours=23)).isoformat()
    late = (datetime.now(UTC) + timedelta(days=1, minutes=5)).isoformat()
    assert post_json(api_a, RESPONSES, {"advocate": tenant_a.advocate.pk, "score": 5, "answered_at": soon}).status_code == 201
    assert post_json(api_a, RESPONSES, {"advocate": tenant_a.advocate.pk, "score": 5, "answered_at": late}).status_code == 400


def test_an_old_detractor_answer_suppresses_from_its_time_and_opens_nothing_once_the_quiet_period_is_over(api_a, tenant_a):
    from advocacy.models import Suppression

    old = post_json(api_a, RESPONSES, {"advocate": tenant_a.advocate.pk, "score": 2, "answered_at": "2021-03-01T10:00:00Z"})
    assert old.status_code == 201 and old.json()["follow_up_task"] is None
    with scopes_disabled():
        assert not Suppression.objects.exists() and not Task.objects.exists()
    quiet = tenant_a.workspace.detractor_quiet_days
    answered = datetime.now(UTC).replace(microsecond=0) - timedelta(days=quiet - 10)
    recent = post_json(api_a, RESPONSES, {"advocate": tenant_a.advocate.pk, "score": 2, "answered_at": answered.isoformat()})
    assert recent.status_code == 201 and recent.json()["follow_up_task"] is not None
    with scopes_disabled():
        [suppression] = Suppression.objects.all()
    assert (suppression.starts_at, suppression.until) == (answered, answered + timedelta(days=quiet))


def test_a_promoter_answer_older_than_90_days_adds_no_badge_fact_or_invitation(api_a, tenant_a):
    from advocacy.models import Stage
    from programs.models import Invitation
    from rewards.models import AdvocateFact

    candidate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE)
    survey = SurveyFactory(workspace=tenant_a.workspace, auto_invite_promoters=True)
    at = (datetime.now(UTC) - timedelta(days=91)).isoformat()
    response = post_json(api_a, RESPONSES, {"advocate": candidate.pk, "score": 10, "survey": survey.pk, "answered_at": at})
    assert response.status_code == 201
    with scopes_disabled():
        assert not AdvocateFact.objects.filter(fact="promoter_answers").exists()
        assert not Invitation.objects.exists()
    fresh = post_json(api_a, RESPONSES, {"advocate": candidate.pk, "score": 10, "survey": survey.pk,
                                         "answered_at": (datetime.now(UTC) - timedelta(days=89)).isoformat()})
    assert fresh.status_code == 201
    with scopes_disabled():
        assert AdvocateFact.objects.get(fact="promoter_answers").count == 1
        assert Invitation.objects.filter(advocate=candidate).exists()


def test_put_of_a_done_survey_with_status_done_is_accepted_unchanged(api_a, tenant_a):
    TagFactory(workspace=tenant_a.workspace, name="vip")
    created = post_json(api_a, SURVEYS, {"name": "T", "audience": "tag", "audience_tag": "vip"})
    survey_id = created.json()["id"]
    assert api_a.post(f"{SURVEYS}{survey_id}/send/").status_code in (200, 201)
    body = api_a.get(f"{SURVEYS}{survey_id}/").json()
    assert body["status"] == "done"
    body["question"] = "How likely are you to recommend {company}?"
    response = api_a.put(f"{SURVEYS}{survey_id}/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "done"
    again = patch_json(api_a, f"{SURVEYS}{survey_id}/", {"status": "active"})
    assert again.status_code in (400, 409)
    with scopes_disabled():
        assert Survey.objects.get(pk=survey_id).status == "done"
