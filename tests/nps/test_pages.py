"""Manager pages of NPS: the overview (the workspace's NPS, the trend, the surveys in one
query), the survey form (per-field messages from the service), a survey's page (tiles,
chart and table, breakdowns, answers filtered and searched, the people held back), the
actions (activate, pause, send now with the audience counted, delete refused with 409 once
sent), CSV exports (formula-safe) and bad query strings that never 500."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advocacy.budget import Hold, record_holds
from advocacy.models import AuditLog, HoldReason, Task, TaskKind
from advocacy.scoping import scopes_disabled
from nps.models import Survey, SurveySend, SurveyStatus
from tests.factories import (
    AdvocateFactory,
    SurveyFactory,
    SurveyResponseFactory,
    SurveySendFactory,
    TagFactory,
)
from tests.programs.pages import post_forms, reload, text, url

pytestmark = pytest.mark.django_db


def survey_data(**overrides) -> dict:
    data = {"name": "Quarterly NPS", "question": "How likely are you to recommend {company} to a friend or colleague?",
            "follow_up_question": "What is the main reason for your score?", "audience": "all", "audience_tag": "",
            "audience_type": "", "audience_stage": "", "channels": ["email", "portal"], "schedule": "once",
            "every_days": "", "status": "draft"}
    return data | overrides


def answers(survey, scores, **kwargs):
    return [SurveyResponseFactory(send=SurveySendFactory(survey=survey), score=s, **kwargs) for s in scores]


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- Overview ----------------------------------------------------------------------------


def test_overview_shows_the_workspace_nps_with_api_answers_and_each_survey(client, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, name="Relationship", status="active")
    answers(survey, [10, 10, 5])
    person = AdvocateFactory(workspace=tenant_a.workspace)
    SurveyResponseFactory(send=None, survey=None, workspace=tenant_a.workspace, advocate=person, score=0, channel="api",
                          advocate_type="customer", advocate_stage="active")
    client.force_login(tenant_a.viewer)
    response = client.get(url("nps_overview", tenant_a))
    assert response.status_code == 200
    page = text(response)
    assert "NPS 0.0" in page.replace("0.0 NPS", "NPS 0.0")  # 2 promoters, 2 detractors, 4 answers
    assert "Relationship" in page and "33.3" in page and "100.0%" in page  # the survey: 3 sent, 3 answers
    assert "<svg" in response.content.decode() and 'role="img"' in response.content.decode()
    assert "New survey" not in page  # a viewer reads only


def test_overview_with_no_answers_shows_no_nps_rather_than_zero(client, tenant_a):
    client.force_login(tenant_a.manager)
    page = text(client.get(url("nps_overview", tenant_a)))
    assert "\u2013 NPS (no answers yet)" in page
    assert "No surveys yet" in page


def test_overview_links_the_open_detractor_follow_ups(client, tenant_a):
    with scopes_disabled():
        Task.objects.create(workspace=tenant_a.workspace, kind=TaskKind.DETRACTOR, title="Call them")
        Task.objects.create(workspace=tenant_a.workspace, kind=TaskKind.DETRACTOR, title="Done", status="done")
    client.force_login(tenant_a.manager)
    response = client.get(url("nps_overview", tenant_a))
    assert "1 open detractor follow-up" in text(response)
    assert "tasks/?status=open&amp;kind=detractor" in response.content.decode()


# session, user, membership, the workspace's figures, the trend, the open detractor
# follow-ups, the surveys' count and page (with their figures), the nav's memberships
OVERVIEW_QUERIES = 9
# session, user, membership, the survey, its figures, the trend, three breakdowns, the
# answers' count and page, the held-back count and rows, the detractor follow-ups, the nav
SURVEY_QUERIES = 15
# session, user, membership, the answers' count and page, three breakdowns, the nav
RESPONSES_QUERIES = 9


def test_list_pages_queries_are_pinned(client, tenant_a, django_assert_num_queries):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    answers(survey, [10, 3])
    client.force_login(tenant_a.viewer)
    for _ in range(2):
        with django_assert_num_queries(OVERVIEW_QUERIES):
            assert client.get(url("nps_overview", tenant_a)).status_code == 200
        with django_assert_num_queries(SURVEY_QUERIES):
            assert client.get(url("nps_survey", tenant_a, survey.pk)).status_code == 200
        with django_assert_num_queries(RESPONSES_QUERIES):
            assert client.get(url("nps_responses", tenant_a)).status_code == 200
        answers(survey, [0, 5, 7, 9, 10])
        answers(SurveyFactory(workspace=tenant_a.workspace), [1, 9])


def test_overview_runs_a_fixed_number_of_queries_whatever_the_number_of_surveys(client, tenant_a):
    client.force_login(tenant_a.manager)
    SurveyFactory(workspace=tenant_a.workspace)
    with CaptureQueriesContext(connection) as one:
        client.get(url("nps_overview", tenant_a))
    for _ in range(6):
        answers(SurveyFactory(workspace=tenant_a.workspace, audience="tag",
                              audience_tag=TagFactory(workspace=tenant_a.workspace)), [9, 3])
    with CaptureQueriesContext(connection) as seven:
        response = client.get(url("nps_overview", tenant_a))
    assert response.status_code == 200
    assert len(seven) == len(one)


@pytest.mark.parametrize("query", ["months=abc", "months=99999999999999999999", "page=%00", "page=-1", "months=\u0661\u0662"])
def test_overview_ignores_bad_query_strings(client, tenant_a, query):
    client.force_login(tenant_a.manager)
    assert client.get(url("nps_overview", tenant_a) + "?" + query).status_code == 200


def test_overview_period_limits_the_workspace_figures(client, tenant_a):
    from datetime import timedelta

    from django.utils import timezone

    survey = SurveyFactory(workspace=tenant_a.workspace)
    answers(survey, [0, 0], answered_at=timezone.now() - timedelta(days=100))
    answers(survey, [10])
    client.force_login(tenant_a.manager)
    assert "-33.3 NPS" in text(client.get(url("nps_overview", tenant_a)))
    last_30 = client.get(url("nps_overview", tenant_a) + "?period=30")
    assert "100.0 NPS" in text(last_30)
    assert "?period=30&amp;months=6" in last_30.content.decode()  # the trend's links keep the period
    since = (timezone.localdate() - timedelta(days=101)).isoformat()
    until = (timezone.localdate() - timedelta(days=99)).isoformat()
    assert "-100.0 NPS" in text(client.get(url("nps_overview", tenant_a) + f"?period=custom&since={since}&until={until}"))
    swapped = client.get(url("nps_overview", tenant_a) + f"?period=custom&since={until}&until={since}")
    assert "-100.0 NPS" in text(swapped)


@pytest.mark.parametrize("query", ["period=custom&since=2026-13-01", "period=custom&since=9999-01-01",
                                   "period=custom&since=\u0662\u0660\u0662\u0666-01-01", "period=7000", "period=%00",
                                   "period=custom&until=1999-12-31"])
def test_overview_refuses_bad_periods_with_a_message_not_a_500(client, tenant_a, query):
    client.force_login(tenant_a.manager)
    response = client.get(url("nps_overview", tenant_a) + "?" + query)
    assert response.status_code == 200 and "not understood" in text(response)


def test_nav_has_an_nps_link(client, tenant_a):
    client.force_login(tenant_a.manager)
    response = client.get(url("manager_home", tenant_a))
    assert url("nps_overview", tenant_a) in response.content.decode()


# --- The form ------------------------------------------------------------------------------


def test_manager_creates_a_survey_through_the_form(client, tenant_a):
    client.force_login(tenant_a.manager)
    response = client.post(url("nps_survey_new", tenant_a), survey_data(
        audience="type", audience_type="partner", schedule="recurring", every_days="90", channels=["email"]))
    with scopes_disabled():
        survey = Survey.objects.get(workspace=tenant_a.workspace)
    assert response.status_code == 302 and response["Location"] == url("nps_survey", tenant_a, survey.pk)
    assert (survey.audience, survey.audience_type, survey.schedule, survey.every_days, survey.channels, survey.status) == (
        "type", "partner", "recurring", 90, ["email"], "draft")


def test_tag_audience_needs_a_tag_and_recurring_needs_an_interval(client, tenant_a):
    client.force_login(tenant_a.manager)
    response = client.post(url("nps_survey_new", tenant_a), survey_data(audience="tag", schedule="recurring"))
    assert response.status_code == 400
    page = text(response)
    assert "Choose one for this audience." in page
    assert "A recurring survey needs the number of days between rounds." in page
    with scopes_disabled():
        assert not Survey.objects.exists()


def test_a_taken_name_is_shown_by_the_name_field(client, tenant_a):
    SurveyFactory(workspace=tenant_a.workspace, name="Quarterly NPS")
    client.force_login(tenant_a.manager)
    response = client.post(url("nps_survey_new", tenant_a), survey_data())
    assert response.status_code == 400
    assert "A survey with this name exists" in text(response)


@pytest.mark.parametrize("bad", [{"channels": []}, {"channels": ["sms"]}, {"name": "x\x00y"}, {"every_days": "\u0661\u0662", "schedule": "recurring"},
                                 {"every_days": "99999999999999999999", "schedule": "recurring"}, {"audience": "everyone"},
                                 {"audience": "tag", "audience_tag": "abc"}])
def test_bad_form_input_is_a_400_with_messages_never_a_500(client, tenant_a, bad):
    client.force_login(tenant_a.manager)
    response = client.post(url("nps_survey_new", tenant_a), survey_data(**bad))
    assert response.status_code == 400


def test_a_tag_of_another_workspace_is_refused(client, tenant_a, tenant_b):
    foreign = TagFactory(workspace=tenant_b.workspace)
    client.force_login(tenant_a.manager)
    response = client.post(url("nps_survey_new", tenant_a), survey_data(audience="tag", audience_tag=str(foreign.pk)))
    assert response.status_code == 400
    assert response.context["form"].errors.get("audience_tag"), response.context["form"].errors
    with scopes_disabled():
        assert not Survey.objects.exists()


def test_edit_keeps_the_status_and_clears_the_other_audiences(client, tenant_a):
    tag = TagFactory(workspace=tenant_a.workspace, name="vip")
    survey = SurveyFactory(workspace=tenant_a.workspace, status="active", audience="type", audience_type="partner")
    client.force_login(tenant_a.manager)
    form = client.get(url("nps_survey_edit", tenant_a, survey.pk))
    assert form.status_code == 200 and 'value="partner" selected' in form.content.decode()
    response = client.post(url("nps_survey_edit", tenant_a, survey.pk),
                           survey_data(name="Renamed", audience="tag", audience_tag=str(tag.pk), audience_type="partner"))
    assert response.status_code == 302
    survey = reload(survey)
    assert (survey.name, survey.audience, survey.audience_tag_id, survey.audience_type, survey.status) == (
        "Renamed", "tag", tag.pk, "", "active")


def test_viewers_see_no_form_and_cannot_create(client, tenant_a):
    client.force_login(tenant_a.viewer)
    assert client.get(url("nps_survey_new", tenant_a)).status_code == 403
    assert client.post(url("nps_survey_new", tenant_a), survey_data()).status_code == 403


# --- A survey's page -----------------------------------------------------------------------


def test_survey_page_shows_tiles_trend_breakdowns_answers_and_held_back_people(client, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, name="Relationship", status="active")
    loud = AdvocateFactory(workspace=tenant_a.workspace, name="Grace Hopper", type="partner")
    SurveyResponseFactory(send=SurveySendFactory(survey=survey, advocate=loud), score=2, comment="Too slow")
    answers(survey, [9, 10, 8])
    SurveySendFactory(survey=survey)  # sent, not answered
    held = AdvocateFactory(workspace=tenant_a.workspace, name="Held Person")
    record_holds(workspace_id=tenant_a.workspace.pk, subject_type="survey", subject_id=survey.pk,
                 holds={held.pk: Hold(reason=HoldReason.SURVEY_THROTTLE, detail="Surveyed on 3 Mar 2026; again after 90 days.")})
    client.force_login(tenant_a.viewer)
    response = client.get(url("nps_survey", tenant_a, survey.pk))
    assert response.status_code == 200
    page = text(response)
    assert "25.0 NPS" in page
    assert "80.0%" in page and "4 answers from 5 people sent" in page
    assert "Grace Hopper" in page and "Too slow" in page
    assert "Partner" in page and "By tag" in page and "By type" in page and "By stage" in page
    assert "Held Person" in page and "Surveyed recently" in page and "again after 90 days" in page
    assert "<svg" in response.content.decode()
    assert post_forms(response) == []  # a viewer: no actions


def test_answers_filter_by_category_and_search_by_name_or_email(client, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    a = AdvocateFactory(workspace=tenant_a.workspace, name="Ada Lovelace", email="ada@x.example")
    b = AdvocateFactory(workspace=tenant_a.workspace, name="Bob Builder", email="bob@x.example")
    SurveyResponseFactory(send=SurveySendFactory(survey=survey, advocate=a), score=10)
    SurveyResponseFactory(send=SurveySendFactory(survey=survey, advocate=b), score=1)
    client.force_login(tenant_a.manager)
    page = text(client.get(url("nps_survey", tenant_a, survey.pk) + "?category=detractor"))
    assert "Bob Builder" in page and "Ada Lovelace" not in page
    page = text(client.get(url("nps_survey", tenant_a, survey.pk) + "?q=ada%40x"))
    assert "Ada Lovelace" in page and "Bob Builder" not in page
    bad = client.get(url("nps_survey", tenant_a, survey.pk) + "?category=nope&q=%00")
    assert bad.status_code == 200 and "not understood" in text(bad)


def test_survey_page_queries_do_not_grow_with_the_answers(client, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    answers(survey, [10])
    client.force_login(tenant_a.manager)
    with CaptureQueriesContext(connection) as few:
        client.get(url("nps_survey", tenant_a, survey.pk))
    answers(survey, [0, 5, 7, 9, 10, 3])
    with scopes_disabled():
        Task.objects.create(workspace=tenant_a.workspace, kind=TaskKind.DETRACTOR, title="t")
    with CaptureQueriesContext(connection) as many:
        client.get(url("nps_survey", tenant_a, survey.pk))
    assert len(many) == len(few)


@pytest.mark.parametrize("action", ["activate", "pause", "send", "delete"])
def test_posting_an_action_on_another_workspaces_survey_is_a_404_and_changes_nothing(client, tenant_a, tenant_b, action):
    foreign = SurveyFactory(workspace=tenant_b.workspace, status=SurveyStatus.ACTIVE if action == "pause" else SurveyStatus.DRAFT)
    AdvocateFactory(workspace=tenant_b.workspace)
    with scopes_disabled():
        before = Survey.objects.filter(pk=foreign.pk).values().get()
    client.force_login(tenant_a.owner)
    assert client.post(url("nps_survey_action", tenant_a, foreign.pk, action)).status_code == 404
    with scopes_disabled():
        assert Survey.objects.filter(pk=foreign.pk).values().get() == before
        assert not SurveySend.objects.exists()
        assert not AuditLog.objects.filter(action__startswith="survey.").exists()


def test_another_workspaces_survey_is_a_404(client, tenant_a, tenant_b):
    foreign = SurveyFactory(workspace=tenant_b.workspace)
    client.force_login(tenant_a.manager)
    assert client.get(url("nps_survey", tenant_a, foreign.pk)).status_code == 404
    assert client.get(url("nps_survey_action", tenant_a, foreign.pk, "send")).status_code == 404
    assert client.get(url("nps_survey_action", tenant_a, SurveyFactory(workspace=tenant_a.workspace).pk, "explode")).status_code == 404


# --- Actions ---------------------------------------------------------------------------------


def test_activate_then_pause(client, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    client.force_login(tenant_a.manager)
    assert client.get(url("nps_survey_action", tenant_a, survey.pk, "activate")).status_code == 200
    assert client.post(url("nps_survey_action", tenant_a, survey.pk, "activate")).status_code == 302
    assert reload(survey).status == SurveyStatus.ACTIVE and reload(survey).next_run_at is not None
    assert client.post(url("nps_survey_action", tenant_a, survey.pk, "pause")).status_code == 302
    assert reload(survey).status == SurveyStatus.PAUSED
    again = client.post(url("nps_survey_action", tenant_a, survey.pk, "pause"))
    assert again.status_code == 409 and "Only an active survey can be paused" in text(again)


def test_send_now_confirmation_counts_the_audience_and_sends_a_round(client, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, status="active", audience="type", audience_type="partner",
                           channels=["email"])
    partners = [AdvocateFactory(workspace=tenant_a.workspace, type="partner") for _ in range(3)]
    AdvocateFactory(workspace=tenant_a.workspace, type="partner", stage="opted_out")
    AdvocateFactory(workspace=tenant_a.workspace, type="employee")
    client.force_login(tenant_a.manager)
    confirm = client.get(url("nps_survey_action", tenant_a, survey.pk, "send"))
    assert "3 people in the audience" in text(confirm)
    response = client.post(url("nps_survey_action", tenant_a, survey.pk, "send"), follow=True)
    assert "sent to 3 people" in text(response)
    with scopes_disabled():
        assert set(SurveySend.objects.filter(survey=survey).values_list("advocate_id", flat=True)) == {p.pk for p in partners}


def test_delete_of_a_sent_survey_is_refused_with_409_and_a_draft_is_deleted(client, tenant_a):
    sent = SurveyFactory(workspace=tenant_a.workspace)
    SurveySendFactory(survey=sent)
    draft = SurveyFactory(workspace=tenant_a.workspace, name="Draft one")
    client.force_login(tenant_a.manager)
    confirm = client.get(url("nps_survey_action", tenant_a, sent.pk, "delete"))
    assert "cannot be deleted" in text(confirm) and post_forms(confirm) == []
    refused = client.post(url("nps_survey_action", tenant_a, sent.pk, "delete"))
    assert refused.status_code == 409 and "Pause it instead" in text(refused)
    assert client.post(url("nps_survey_action", tenant_a, draft.pk, "delete")).status_code == 302
    with scopes_disabled():
        assert list(Survey.objects.values_list("pk", flat=True)) == [sent.pk]
        assert AuditLog.objects.filter(action="survey.deleted").count() == 1


def test_viewers_cannot_act_on_a_survey(client, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    client.force_login(tenant_a.viewer)
    assert client.post(url("nps_survey_action", tenant_a, survey.pk, "activate")).status_code == 403
    assert reload(survey).status == SurveyStatus.DRAFT


# --- Every answer and CSV ----------------------------------------------------------------------


def test_every_answer_page_lists_survey_and_integration_answers(client, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, name="Relationship")
    answers(survey, [10])
    person = AdvocateFactory(workspace=tenant_a.workspace, name="Api Person")
    SurveyResponseFactory(send=None, survey=None, workspace=tenant_a.workspace, advocate=person, score=4, channel="api",
                          advocate_type="customer", advocate_stage="active")
    client.force_login(tenant_a.viewer)
    page = text(client.get(url("nps_responses", tenant_a)))
    assert "Relationship" in page and "Api Person" in page and "Integration" in page


def test_responses_csv_is_formula_safe_and_filtered(client, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, name="=HYPERLINK(1)")
    a = AdvocateFactory(workspace=tenant_a.workspace, name="+Eve")
    SurveyResponseFactory(send=SurveySendFactory(survey=survey, advocate=a), score=3, comment="@SUM(A1)")
    answers(survey, [10])
    client.force_login(tenant_a.viewer)
    rows = csv_rows(client.get(url("nps_survey_response_export", tenant_a, survey.pk) + "?category=detractor"))
    assert rows[0][:8] == ["id", "answered_at", "survey", "advocate_id", "advocate_email", "advocate_name", "score", "category"]
    assert len(rows) == 2
    assert rows[1][2] == "'=HYPERLINK(1)" and rows[1][5] == "'+Eve" and rows[1][8] == "'@SUM(A1)"
    assert len(csv_rows(client.get(url("nps_response_export", tenant_a)))) == 3


def test_breakdown_csv_per_dimension_and_month(client, tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    answers(survey, [10, 0, 8])
    client.force_login(tenant_a.viewer)
    rows = csv_rows(client.get(url("nps_survey_breakdown_export", tenant_a, survey.pk) + "?by=type"))
    assert rows == [["type", "responses", "promoters", "passives", "detractors", "nps"], ["Customer", "3", "1", "1", "1", "0.0"]]
    months = csv_rows(client.get(url("nps_breakdown_export", tenant_a) + "?by=month&months=6"))
    assert len(months) == 7
    assert client.get(url("nps_breakdown_export", tenant_a) + "?by=%00").status_code == 404
