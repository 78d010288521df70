"""nps/queries.py: the figures of a survey and of the workspace, the trend by month, the
breakdowns and the portal's open prompt, each in one query."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from advocacy.scoping import workspace_scope
from nps import queries
from tests.factories import (
    AdvocateFactory,
    SurveyFactory,
    SurveyResponseFactory,
    SurveySendFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


def _answers(survey, scores, **kwargs):
    return [SurveyResponseFactory(send=SurveySendFactory(survey=survey), score=s, **kwargs) for s in scores]


def test_survey_figures_count_the_three_groups_and_the_people_sent(tenant_a, django_assert_num_queries):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    _answers(survey, [10, 9, 8, 3])
    SurveySendFactory(survey=survey)
    with workspace_scope(tenant_a.workspace), django_assert_num_queries(1):
        f = queries.survey_figures(survey)
    assert (f.promoters, f.passives, f.detractors, f.sent) == (2, 1, 1, 5)
    assert f.nps == Decimal("25.0")
    assert f.response_rate == Decimal("80.0")


def test_a_person_asked_in_two_rounds_counts_in_each_so_the_rate_never_passes_100(tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, schedule="recurring", every_days=90)
    person = AdvocateFactory(workspace=tenant_a.workspace)
    for round_no in (1, 2):
        SurveyResponseFactory(send=SurveySendFactory(survey=survey, advocate=person, round=round_no), score=10)
    with workspace_scope(tenant_a.workspace):
        f = queries.survey_figures(survey)
    assert (f.responses, f.sent, f.response_rate) == (2, 2, Decimal("100.0"))


def test_a_survey_nobody_answered_has_no_nps_and_no_rate_without_sends(tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    with workspace_scope(tenant_a.workspace):
        f = queries.survey_figures(survey)
    assert f.nps is None and f.responses == 0 and f.sent == 0 and f.response_rate is None


def test_workspace_figures_include_api_answers_and_leave_out_other_workspaces(tenant_a, tenant_b, django_assert_num_queries):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    _answers(survey, [10, 0])
    person = AdvocateFactory(workspace=tenant_a.workspace)
    SurveyResponseFactory(send=None, survey=None, workspace=tenant_a.workspace, advocate=person, score=9, channel="api",
                          advocate_type=person.type, advocate_stage=person.stage)
    _answers(SurveyFactory(workspace=tenant_b.workspace), [0, 0, 0])
    with workspace_scope(tenant_a.workspace), django_assert_num_queries(1):
        f = queries.figures(tenant_a.workspace)
    assert (f.promoters, f.passives, f.detractors, f.sent) == (2, 0, 1, None)
    assert f.nps == Decimal("33.3")


def test_figures_of_a_period_count_answers_from_start_to_before_end(tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    _answers(survey, [10], answered_at=start - timedelta(seconds=1))
    _answers(survey, [0], answered_at=start)
    _answers(survey, [9], answered_at=start + timedelta(days=31))
    with workspace_scope(tenant_a.workspace):
        f = queries.figures(tenant_a.workspace, start=start, end=start + timedelta(days=31))
        g = queries.figures(tenant_a.workspace, start=start, end=start + timedelta(days=31), survey=survey)
    assert (f.promoters, f.detractors) == (0, 1)
    assert (g.promoters, g.detractors) == (0, 1)


@time_machine.travel(datetime(2026, 6, 15, 12, tzinfo=UTC), tick=False)
def test_trend_has_every_month_oldest_first_with_empty_months_null(tenant_a, django_assert_num_queries):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    _answers(survey, [10, 10, 0], answered_at=datetime(2026, 6, 2, tzinfo=UTC))
    _answers(survey, [5], answered_at=datetime(2026, 4, 30, 23, tzinfo=UTC))
    _answers(survey, [10], answered_at=datetime(2025, 6, 30, tzinfo=UTC))  # 12 months ago: left out
    with workspace_scope(tenant_a.workspace), django_assert_num_queries(1):
        trend = queries.trend_by_month(tenant_a.workspace, months=12)
    assert trend[0][0] == date(2025, 7, 1)
    assert trend[-1][0] == date(2026, 6, 1)
    assert len(trend) == 12
    by_month = dict(trend)
    assert by_month[date(2026, 6, 1)].nps == Decimal("33.3")
    assert by_month[date(2026, 4, 1)].nps == Decimal("-100.0")
    assert by_month[date(2026, 5, 1)].nps is None


@time_machine.travel(datetime(2026, 6, 15, 12, tzinfo=UTC), tick=False)
def test_trend_months_follow_the_workspace_time_zone(tenant_a):
    tenant_a.workspace.timezone = "Europe/Berlin"
    tenant_a.workspace.save()
    survey = SurveyFactory(workspace=tenant_a.workspace)
    _answers(survey, [10], answered_at=datetime(2026, 4, 30, 23, tzinfo=UTC))  # 1 May in Berlin
    with workspace_scope(tenant_a.workspace):
        by_month = dict(queries.trend_by_month(tenant_a.workspace, survey=survey, months=3))
    assert by_month[date(2026, 5, 1)].promoters == 1
    assert by_month[date(2026, 4, 1)].responses == 0


def test_breakdown_by_type_and_stage_uses_the_persons_at_the_time_of_the_answer(tenant_a, django_assert_num_queries):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    partner = AdvocateFactory(workspace=tenant_a.workspace, type="partner", stage="candidate")
    SurveyResponseFactory(send=SurveySendFactory(survey=survey, advocate=partner), score=10)
    partner.stage = "active"
    partner.save()
    _answers(survey, [0, 7])
    with workspace_scope(tenant_a.workspace), django_assert_num_queries(1):
        by_type = dict(queries.breakdown(tenant_a.workspace, by="type", survey=survey))
    with workspace_scope(tenant_a.workspace):
        by_stage = dict(queries.breakdown(tenant_a.workspace, by="stage"))
    assert by_type["Partner"].nps == Decimal("100.0")
    assert by_type["Customer"].responses == 2 and by_type["Customer"].nps == Decimal("-50.0")
    assert by_stage["Candidate"].promoters == 1
    assert by_stage["Active"].responses == 2


def test_breakdown_by_tag_counts_a_person_under_each_tag_and_untagged_people_apart(tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace)
    TagFactory(workspace=tenant_a.workspace, name="emea")
    both = AdvocateFactory(workspace=tenant_a.workspace, tags=["emea", "enterprise"])
    SurveyResponseFactory(send=SurveySendFactory(survey=survey, advocate=both), score=10)
    _answers(survey, [2])
    with workspace_scope(tenant_a.workspace):
        rows = queries.breakdown(tenant_a.workspace, by="tag", survey=survey)
    by_tag = dict(rows)
    assert by_tag["emea"].promoters == 1 and by_tag["enterprise"].promoters == 1
    assert by_tag[queries.NO_TAG].detractors == 1
    assert rows[-1][0] == queries.NO_TAG


def test_breakdown_refuses_an_unknown_dimension(tenant_a):
    with workspace_scope(tenant_a.workspace), pytest.raises(ValueError):
        queries.breakdown(tenant_a.workspace, by="company")


def test_survey_rows_annotate_a_page_of_surveys_in_one_query(tenant_a, django_assert_num_queries):
    from nps.models import Survey

    for _ in range(3):
        _answers(SurveyFactory(workspace=tenant_a.workspace), [10, 6])
    with workspace_scope(tenant_a.workspace), django_assert_num_queries(1):
        rows = list(queries.survey_rows(Survey.objects.filter(workspace=tenant_a.workspace)))
        figures = [queries.row_figures(s) for s in rows]
    assert [(f.promoters, f.detractors, f.sent) for f in figures] == [(1, 1, 2)] * 3


def test_open_prompt_is_the_latest_unanswered_send_of_the_last_30_days(tenant_a):
    me = tenant_a.advocate
    old = SurveySendFactory(survey=SurveyFactory(workspace=tenant_a.workspace), advocate=me,
                            sent_at=datetime.now(UTC) - timedelta(days=31))
    answered = SurveySendFactory(survey=SurveyFactory(workspace=tenant_a.workspace), advocate=me)
    SurveyResponseFactory(send=answered, score=9)
    answered.answered_at = answered.sent_at
    answered.save()
    recent = SurveySendFactory(survey=SurveyFactory(workspace=tenant_a.workspace), advocate=me,
                               sent_at=datetime.now(UTC) - timedelta(days=2))
    SurveySendFactory(survey=SurveyFactory(workspace=tenant_a.workspace))  # someone else's
    with workspace_scope(tenant_a.workspace):
        assert queries.open_prompt(me) == recent
    assert old.pk != recent.pk


def test_the_response_rate_counts_only_answers_to_a_send_so_api_answers_naming_the_survey_never_pass_100(tenant_a):
    from nps.services import record_api_response

    survey = SurveyFactory(workspace=tenant_a.workspace)
    _answers(survey, [9])  # one person sent, who answered
    with workspace_scope(tenant_a.workspace):
        for n in range(3):
            record_api_response(workspace=tenant_a.workspace, advocate=AdvocateFactory(workspace=tenant_a.workspace),
                                score=10, survey=survey, external_id=f"typeform-{n}")
        f = queries.survey_figures(survey)
        [row] = queries.survey_rows(type(survey).objects.filter(pk=survey.pk))
        listed = queries.row_figures(row)
    assert (f.responses, f.sent, f.nps) == (4, 1, Decimal("100.0"))
    assert f.response_rate == listed.response_rate == Decimal("100.0")
