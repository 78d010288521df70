"""Answers and the loop (PRODUCT.md "NPS surveys", "Automation"): one response per send,
replaced when answered again; a promoter's badge fact once per response and an optional
automatic invitation of a candidate; a detractor's follow-up task carrying the comment and
no asks for 90 days, once per response; passives nothing; integrations' answers idempotent
on their external id; the ``response_recorded`` signal after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from advocacy.budget import contact_hold
from advocacy.errors import Conflict, ValidationFailed
from advocacy.models import AuditLog, ContactKind, HoldReason, Stage, Suppression, Task, TaskKind
from advocacy.scoping import scopes_disabled, workspace_scope
from nps import services as svc
from nps.models import SurveyResponse, SurveySend
from nps.signals import response_recorded
from programs.models import Invitation
from rewards.models import AdvocateFact
from tests.factories import AdvocateFactory, SurveyFactory, SurveySendFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_send(tenant_a) -> SurveySend:
    return SurveySendFactory(survey=SurveyFactory(workspace=tenant_a.workspace, name="Quarterly"), advocate=tenant_a.advocate)


def answer(send, score, comment=None, channel="email"):
    """Answer and commit: the loop runs from a task scheduled after commit (eager here, so
    the settle period does not wait)."""
    with workspace_scope(send.workspace), TestCase.captureOnCommitCallbacks(execute=True):
        return svc.record_answer(send=send, score=score, channel=channel, comment=comment)


def promoter_facts(advocate) -> int:
    with scopes_disabled():
        fact = AdvocateFact.objects.filter(advocate=advocate, fact="promoter_answers").first()
    return fact.count if fact else 0


def detractor_tasks(advocate) -> list[Task]:
    with scopes_disabled():
        return list(Task.objects.filter(advocate=advocate, kind=TaskKind.DETRACTOR))


def suppressions(advocate) -> list[Suppression]:
    with scopes_disabled():
        return list(Suppression.objects.filter(advocate=advocate))


# --- Answers ------------------------------------------------------------------------------------------


def test_an_answer_records_the_score_its_category_and_the_person_at_the_time(a_send):
    response = answer(a_send, 8, comment="  Solid  ")
    assert (response.score, response.category, response.comment, response.channel) == (8, "passive", "Solid", "email")
    assert (response.advocate_type, response.advocate_stage) == ("customer", "active")
    assert response.survey_id == a_send.survey_id
    with scopes_disabled():
        assert SurveySend.objects.get(pk=a_send.pk).answered_at is not None


def test_answering_again_replaces_the_score_and_keeps_the_comment_unless_given(a_send):
    first = answer(a_send, 3, comment="Slow support")
    second = answer(a_send, 7)
    assert second.pk == first.pk
    assert (second.score, second.category, second.comment) == (7, "passive", "Slow support")
    third = answer(a_send, 7, comment="Better now")
    assert third.comment == "Better now"
    with scopes_disabled():
        assert SurveyResponse.objects.count() == 1
        assert SurveyResponse.objects.get().answered_at == first.answered_at


@pytest.mark.parametrize("score", [-1, 11, 10**20, "10.0", "٣", "", None, True, 3.5, "abc"])
def test_scores_outside_0_to_10_are_refused(a_send, score):
    with pytest.raises(ValidationFailed) as exc:
        answer(a_send, score)
    assert exc.value.fields == {"score": ["A whole number from 0 to 10."]}
    with scopes_disabled():
        assert not SurveyResponse.objects.exists()


def test_comments_are_at_most_5000_characters_without_nul(a_send):
    response = answer(a_send, 9)
    with workspace_scope(a_send.workspace):
        with pytest.raises(ValidationFailed):
            svc.record_comment(response=response, comment="x" * 5001)
        with pytest.raises(ValidationFailed):
            svc.record_comment(response=response, comment="a\x00b")
        assert svc.record_comment(response=response, comment="x" * 5000).comment == "x" * 5000


def test_an_erased_persons_link_records_nothing(a_send):
    with scopes_disabled():
        a_send.advocate.erased_at = timezone.now()
        a_send.advocate.save()
    with pytest.raises(Conflict):
        answer(a_send, 9)


def test_the_signal_tells_listeners_after_commit(a_send):
    seen = []

    def listener(sender, response, created, previous_category, **kwargs):
        seen.append((response.score, created, previous_category))

    response_recorded.connect(listener)
    try:
        other = SurveySendFactory(survey=a_send.survey, advocate=AdvocateFactory(workspace=a_send.workspace))
        with workspace_scope(a_send.workspace):
            svc.record_answer(send=other, score=1, channel="email")
        assert seen == []  # not committed (the test's transaction): nobody told yet
        answer(a_send, 4)  # "commits": the helper runs the on-commit callbacks
        answer(a_send, 10)
    finally:
        response_recorded.disconnect(listener)
    assert seen == [(4, True, None), (10, False, "detractor")]


# --- Promoters ----------------------------------------------------------------------------------------


def test_a_promoter_counts_once_for_the_badges_per_response(a_send):
    answer(a_send, 9)
    answer(a_send, 10)
    answer(a_send, 7)
    answer(a_send, 9)
    assert promoter_facts(a_send.advocate) == 1
    other = SurveySendFactory(survey=SurveyFactory(workspace=a_send.workspace), advocate=a_send.advocate)
    answer(other, 10)
    assert promoter_facts(a_send.advocate) == 2


def test_a_promoter_candidate_is_invited_when_the_survey_auto_invites(tenant_a):
    candidate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE, name="Ada")
    survey = SurveyFactory(workspace=tenant_a.workspace, auto_invite_promoters=True)
    answer(SurveySendFactory(survey=survey, advocate=candidate), 10)
    with scopes_disabled():
        candidate.refresh_from_db()
        invitation = Invitation.objects.get(advocate=candidate)
    assert candidate.stage == Stage.INVITED
    assert invitation.program is None
    assert tenant_a.workspace.name in invitation.inviter_name
    assert invitation.note


def test_no_automatic_invitation_without_the_option_or_for_people_already_in(tenant_a):
    candidate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE)
    answer(SurveySendFactory(survey=SurveyFactory(workspace=tenant_a.workspace), advocate=candidate), 10)
    active_survey = SurveyFactory(workspace=tenant_a.workspace, auto_invite_promoters=True)
    answer(SurveySendFactory(survey=active_survey, advocate=tenant_a.advocate), 10)
    no_email = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE, channels=["portal"])
    answer(SurveySendFactory(survey=active_survey, advocate=no_email), 10)  # cannot be invited: stays a candidate
    with scopes_disabled():
        assert not Invitation.objects.exists()
        candidate.refresh_from_db()
    assert candidate.stage == Stage.CANDIDATE


# --- Detractors ---------------------------------------------------------------------------------------


def test_a_detractor_opens_a_follow_up_task_with_the_comment_and_gets_no_asks_for_90_days(a_send):
    response = answer(a_send, 2, comment="The export keeps failing.")
    [task] = detractor_tasks(a_send.advocate)
    assert task.status == Task.Status.OPEN
    assert "NPS 2" in task.title
    assert "The export keeps failing." in task.detail
    assert "Quarterly" in task.detail
    assert task.dedupe_key == f"nps-detractor:{response.pk}"
    with scopes_disabled():
        assert SurveyResponse.objects.get(pk=response.pk).follow_up_task_id == task.pk
    [suppression] = suppressions(a_send.advocate)
    assert suppression.reason == Suppression.Reason.DETRACTOR
    assert suppression.until - suppression.starts_at == timedelta(days=90)
    with workspace_scope(a_send.workspace):
        hold = contact_hold(advocate=a_send.advocate, kind=ContactKind.OFFER)
        assert hold.reason == HoldReason.SUPPRESSED
        assert AuditLog.objects.filter(action="nps.detractor").count() == 1


def test_a_comment_after_the_score_goes_into_the_open_task(a_send):
    response = answer(a_send, 5)
    assert "No comment yet." in detractor_tasks(a_send.advocate)[0].detail
    with workspace_scope(a_send.workspace):
        svc.record_comment(response=response, comment="Pricing went up twice.")
    assert "Pricing went up twice." in detractor_tasks(a_send.advocate)[0].detail
    answer(a_send, 4, comment="And support is slow.")
    [task] = detractor_tasks(a_send.advocate)
    assert "And support is slow." in task.detail and "4 out of 10" in task.detail


def test_a_score_change_without_a_comment_refreshes_the_open_follow_up_task(a_send):
    answer(a_send, 5, comment="Slow exports.")
    answer(a_send, 2)  # still a detractor: the loop does not run again, the task's detail follows
    [task] = detractor_tasks(a_send.advocate)
    assert "2 out of 10" in task.detail and "Slow exports." in task.detail
    answer(a_send, 9)  # a promoter now: the open task says so until the manager closes it
    [task] = detractor_tasks(a_send.advocate)
    assert "9 out of 10" in task.detail and task.status == Task.Status.OPEN


def test_a_closed_task_keeps_what_the_manager_read(a_send, tenant_a):
    from advocacy.services.tasks import close_task

    response = answer(a_send, 1, comment="Bad")
    with workspace_scope(a_send.workspace):
        close_task(task=detractor_tasks(a_send.advocate)[0], actor=tenant_a.manager, notes="Called them.")
        svc.record_comment(response=response, comment="Thanks for calling")
    [task] = detractor_tasks(a_send.advocate)
    assert "Bad" in task.detail and "Thanks for calling" not in task.detail


def test_detractor_to_promoter_and_back_opens_one_task_and_one_suppression(a_send):
    answer(a_send, 3)
    answer(a_send, 10)
    [task] = detractor_tasks(a_send.advocate)
    assert task.status == Task.Status.OPEN  # the manager closes it
    answer(a_send, 0)
    assert len(detractor_tasks(a_send.advocate)) == 1
    assert len(suppressions(a_send.advocate)) == 1
    assert promoter_facts(a_send.advocate) == 1


def test_passives_start_nothing(a_send):
    answer(a_send, 7)
    answer(a_send, 8)
    assert detractor_tasks(a_send.advocate) == []
    assert suppressions(a_send.advocate) == []
    assert promoter_facts(a_send.advocate) == 0


# --- Integrations ---------------------------------------------------------------------------------------


def api_answer(tenant, **kwargs):
    with workspace_scope(tenant.workspace):
        return svc.record_api_response(workspace=tenant.workspace, advocate=kwargs.pop("advocate", tenant.advocate), **kwargs)


def test_an_integrations_answer_is_idempotent_on_its_external_id(tenant_a):
    first, created = api_answer(tenant_a, score=3, comment="meh", external_id="crm-1")
    again, created_again = api_answer(tenant_a, score=10, external_id="crm-1")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk and again.score == 3
    assert first.channel == "api" and first.send_id is None
    assert len(detractor_tasks(tenant_a.advocate)) == 1
    _, created = api_answer(tenant_a, score=9)
    _, created_too = api_answer(tenant_a, score=9)
    assert created and created_too


def test_an_integrations_answer_may_name_a_survey_of_the_workspace_only(tenant_a, tenant_b):
    mine = SurveyFactory(workspace=tenant_a.workspace)
    response, _ = api_answer(tenant_a, score=8, survey=mine, answered_at=timezone.now() - timedelta(days=3))
    assert response.survey == mine
    with pytest.raises(ValidationFailed):
        api_answer(tenant_a, score=8, survey=SurveyFactory(workspace=tenant_b.workspace))
    with pytest.raises(ValidationFailed):
        api_answer(tenant_a, score=8, advocate=tenant_b.advocate)
    with pytest.raises(ValidationFailed) as exc:
        api_answer(tenant_a, score=8, answered_at=timezone.now() + timedelta(days=1, minutes=1))
    assert "answered_at" in exc.value.fields
    with pytest.raises(ValidationFailed):
        api_answer(tenant_a, score=8, external_id="x" * 101)


def test_forgetting_an_erased_persons_comments_keeps_their_scores(a_send):
    answer(a_send, 2, comment="My manager Bob Smith hates it")
    with workspace_scope(a_send.workspace):
        assert svc.forget_comments(advocate=a_send.advocate) == 1
    with scopes_disabled():
        response = SurveyResponse.objects.get()
    assert (response.score, response.comment) == (2, "")
    assert "Bob" not in detractor_tasks(a_send.advocate)[0].detail


def test_erasing_an_advocate_blanks_their_nps_comments_and_detractor_task(tenant_a):
    from advocacy.models import Task, TaskKind
    from advocacy.scoping import workspace_scope
    from advocacy.services.advocates import erase_advocate
    from nps.models import SurveyResponse
    from nps.services import record_api_response
    from tests.factories import AdvocateFactory

    ws = tenant_a.workspace
    with workspace_scope(ws):
        person = AdvocateFactory(workspace=ws)
        response, _ = record_api_response(workspace=ws, advocate=person, score=2, comment="Support never answers me")
        erase_advocate(advocate=person, actor=tenant_a.owner)
        response = SurveyResponse.objects.get(pk=response.pk)
        assert response.comment == ""
        assert response.score == 2
        task = Task.objects.get(advocate=person, kind=TaskKind.DETRACTOR)
        assert "Support never answers" not in task.detail
