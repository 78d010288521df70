"""Surveys: creating and editing them (validation with per-field messages), their states
(draft → active ⇄ paused; a one-off survey is done after its round), deleting one that was
never sent, and the audit rows of a manager's changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from advocacy.errors import Conflict, InvalidTransition, ValidationFailed
from advocacy.models import AuditLog
from advocacy.scoping import workspace_scope
from nps import services as svc
from nps.models import DEFAULT_QUESTION, Survey, SurveyStatus
from tests.factories import SurveyFactory, SurveySendFactory, TagFactory

pytestmark = pytest.mark.django_db


def create(tenant, **data):
    with workspace_scope(tenant.workspace):
        return svc.create_survey(workspace=tenant.workspace, actor=tenant.manager, data={"name": "Quarterly", **data})


def fields_of(exc: pytest.ExceptionInfo) -> set[str]:
    return set(exc.value.fields)


def test_a_new_survey_is_a_draft_with_the_default_question_and_both_channels(tenant_a):
    survey = create(tenant_a)
    assert survey.status == SurveyStatus.DRAFT
    assert survey.question == DEFAULT_QUESTION
    assert survey.channels == ["email", "portal"]
    assert survey.next_run_at is None
    assert survey.created_by == tenant_a.manager
    with workspace_scope(tenant_a.workspace):
        assert AuditLog.objects.filter(action="survey.created", data__survey=survey.pk).exists()


def test_a_survey_created_active_runs_now_unless_a_time_is_given(tenant_a):
    before = timezone.now()
    survey = create(tenant_a, status="active")
    assert survey.next_run_at >= before
    later = timezone.now() + timedelta(days=3)
    other = create(tenant_a, name="Later", status="active", next_run_at=later)
    assert other.next_run_at == later


def test_the_audience_tag_may_be_given_by_name_and_must_exist_in_the_workspace(tenant_a, tenant_b):
    tag = TagFactory(workspace=tenant_a.workspace, name="enterprise")
    survey = create(tenant_a, audience="tag", audience_tag="Enterprise")
    assert survey.audience_tag == tag
    with pytest.raises(ValidationFailed) as exc:
        create(tenant_a, name="B", audience="tag", audience_tag="nope")
    assert fields_of(exc) == {"audience_tag"}
    with pytest.raises(ValidationFailed):
        create(tenant_a, name="C", audience="tag", audience_tag=TagFactory(workspace=tenant_b.workspace))
    with pytest.raises(ValidationFailed) as exc:
        create(tenant_a, name="D", audience="tag")
    assert fields_of(exc) == {"audience_tag"}


def test_audience_fields_that_do_not_apply_are_cleared(tenant_a):
    survey = create(tenant_a, audience="type", audience_type="partner", audience_stage="active")
    assert (survey.audience_type, survey.audience_stage, survey.audience_tag) == ("partner", "", None)


@pytest.mark.parametrize("data, field", [
    ({"audience": "type", "audience_type": "robot"}, "audience_type"),
    ({"audience": "stage", "audience_stage": "opted_out"}, "audience_stage"),
    ({"audience": "everyone"}, "audience"),
    ({"channels": []}, "channels"),
    ({"channels": ["sms"]}, "channels"),
    ({"channels": "pigeon"}, "channels"),
    ({"schedule": "recurring"}, "every_days"),
    ({"schedule": "recurring", "every_days": 0}, "every_days"),
    ({"schedule": "recurring", "every_days": 10**9}, "every_days"),
    ({"schedule": "recurring", "every_days": "٣"}, "every_days"),
    ({"schedule": "weekly"}, "schedule"),
    ({"status": "done"}, "status"),
    ({"name": ""}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"name": "bad\x00name"}, "name"),
    ({"question": "q" * 301}, "question"),
    ({"auto_invite_promoters": "yes"}, "auto_invite_promoters"),
    ({"next_run_at": "tomorrow"}, "next_run_at"),
])
def test_invalid_fields_are_refused_with_a_message_for_the_field(tenant_a, data, field):
    with pytest.raises(ValidationFailed) as exc:
        create(tenant_a, **data)
    assert field in exc.value.fields, exc.value.fields
    assert exc.value.message


def test_recurring_surveys_keep_their_interval_and_one_off_surveys_drop_it(tenant_a):
    survey = create(tenant_a, schedule="recurring", every_days="120")
    assert survey.every_days == 120
    with workspace_scope(tenant_a.workspace):
        survey = svc.update_survey(survey=survey, actor=tenant_a.manager, data={"schedule": "once"})
    assert survey.every_days is None


def test_survey_names_are_unique_in_a_workspace_but_not_across_workspaces(tenant_a, tenant_b):
    create(tenant_a)
    with pytest.raises(ValidationFailed) as exc:
        create(tenant_a, name="quarterly")
    assert fields_of(exc) == {"name"}
    create(tenant_b)
    other = create(tenant_a, name="Other")
    with workspace_scope(tenant_a.workspace), pytest.raises(ValidationFailed):
        svc.update_survey(survey=other, actor=tenant_a.manager, data={"name": "Quarterly"})


def test_update_changes_only_what_is_given_and_audits_the_changed_fields(tenant_a):
    survey = create(tenant_a, audience="type", audience_type="partner")
    with workspace_scope(tenant_a.workspace):
        survey = svc.update_survey(survey=survey, actor=tenant_a.manager, data={"question": "Would you recommend {company}?"})
        entry = AuditLog.objects.get(action="survey.updated")
    assert survey.audience_type == "partner"
    assert survey.question_for() == f"Would you recommend {tenant_a.workspace.name}?"
    assert entry.data["changed"] == ["question"]


def test_activate_pause_and_activate_again(tenant_a):
    survey = create(tenant_a)
    at = timezone.now() + timedelta(days=2)
    with workspace_scope(tenant_a.workspace):
        survey = svc.activate_survey(survey=survey, actor=tenant_a.manager, at=at)
        assert (survey.status, survey.next_run_at) == (SurveyStatus.ACTIVE, at)
        with pytest.raises(InvalidTransition):
            svc.activate_survey(survey=survey, actor=tenant_a.manager)
        survey = svc.pause_survey(survey=survey, actor=tenant_a.manager)
        assert survey.status == SurveyStatus.PAUSED
        with pytest.raises(InvalidTransition):
            svc.pause_survey(survey=survey, actor=tenant_a.manager)
        survey = svc.activate_survey(survey=survey, actor=tenant_a.manager)
        assert survey.status == SurveyStatus.ACTIVE
        assert {"survey.activated", "survey.paused"} <= set(AuditLog.objects.values_list("action", flat=True))


def test_a_done_survey_cannot_be_activated_again(tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, status=SurveyStatus.DONE)
    with workspace_scope(tenant_a.workspace), pytest.raises(InvalidTransition):
        svc.activate_survey(survey=survey, actor=tenant_a.manager)


def test_a_survey_never_sent_is_deleted_and_one_with_sends_is_refused(tenant_a):
    unsent = create(tenant_a)
    sent = SurveyFactory(workspace=tenant_a.workspace)
    SurveySendFactory(survey=sent)
    with workspace_scope(tenant_a.workspace):
        svc.delete_survey(survey=unsent, actor=tenant_a.manager)
        assert not Survey.objects.filter(pk=unsent.pk).exists()
        with pytest.raises(Conflict) as exc:
            svc.delete_survey(survey=sent, actor=tenant_a.manager)
        assert exc.value.status == 409
        assert "Pause it instead" in exc.value.message
        assert Survey.objects.filter(pk=sent.pk).exists()
        assert AuditLog.objects.filter(action="survey.deleted").count() == 1


def test_a_done_survey_can_be_renamed_but_not_reopened_by_an_edit(tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, status=SurveyStatus.DONE)
    with workspace_scope(tenant_a.workspace):
        survey = svc.update_survey(survey=survey, actor=tenant_a.manager, data={"name": "Spring 2026", "status": "done"})
        assert (survey.name, survey.status) == ("Spring 2026", SurveyStatus.DONE)
        with pytest.raises(InvalidTransition):
            svc.update_survey(survey=survey, actor=tenant_a.manager, data={"status": "active"})
