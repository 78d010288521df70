"""Sending rounds (PRODUCT.md "NPS surveys", "Fatigue"): the audience, the channel of each
person, the 90-day throttle across surveys (day 89 held, day 90 sent), the one contact
budget shared with ask offers, held-back people recorded with the reason, the emails with
eleven score links, the job and the command, and a round run twice sending nobody twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from advocacy.errors import InvalidTransition
from advocacy.models import Contact, ContactHold, ContactKind, HoldReason, Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from nps import services as svc
from nps.models import Survey, SurveySend, SurveyStatus
from nps.tokens import read_token
from programs.fatigue import offer_hold
from programs.services import create_offers
from tests.factories import (
    AdvocateFactory,
    AskFactory,
    ProgramFactory,
    SurveyFactory,
    SurveySendFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def survey_of(tenant, **fields) -> Survey:
    defaults = {"name": "Quarterly", "status": SurveyStatus.ACTIVE, "next_run_at": timezone.now()}
    return SurveyFactory(workspace=tenant.workspace, **(defaults | fields))


def send(survey, now=None) -> svc.RoundResult:
    with workspace_scope(survey.workspace):
        return svc.send_round(survey=Survey.objects.get(pk=survey.pk), now=now)


def sends_of(survey) -> dict[int, str]:
    with scopes_disabled():
        return dict(SurveySend.objects.filter(survey=survey).values_list("advocate_id", "channel"))


def holds_of(survey) -> dict[int, str]:
    with scopes_disabled():
        return dict(ContactHold.objects.filter(subject_type="survey", subject_id=survey.pk).values_list("advocate_id", "reason"))


def hold_detail(survey, advocate) -> str:
    with scopes_disabled():
        return ContactHold.objects.get(subject_type="survey", subject_id=survey.pk, advocate=advocate).detail


def contacts(advocate) -> list[str]:
    with scopes_disabled():
        return list(Contact.objects.filter(advocate=advocate).values_list("kind", flat=True))


# --- Audience and channels ------------------------------------------------------------------------


def test_a_round_sends_to_everybody_reachable_by_email_first_then_the_portal(tenant_a):
    emailed = tenant_a.advocate
    portal_only = AdvocateFactory(workspace=tenant_a.workspace, channels=["portal"])
    candidate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE)
    survey = survey_of(tenant_a)

    result = send(survey)

    assert sends_of(survey) == {emailed.pk: "email", portal_only.pk: "portal", candidate.pk: "email"}
    assert (result.sent, result.held, result.round) == (3, 0, 1)
    assert contacts(emailed) == [ContactKind.SURVEY]
    with scopes_disabled():
        one = SurveySend.objects.get(survey=survey, advocate=emailed)
        assert Contact.objects.get(advocate=emailed).subject == f"survey-send:{one.pk}"


def test_opted_out_unsubscribed_and_erased_people_are_never_sent(tenant_a):
    opted_out = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.OPTED_OUT)
    unsubscribed = AdvocateFactory(workspace=tenant_a.workspace, channels=[])
    erased = AdvocateFactory(workspace=tenant_a.workspace, erased_at=timezone.now())
    survey = survey_of(tenant_a)

    send(survey)

    sent = sends_of(survey)
    assert tenant_a.advocate.pk in sent
    assert not {opted_out.pk, unsubscribed.pk, erased.pk} & set(sent)
    assert not {opted_out.pk, unsubscribed.pk, erased.pk} & set(holds_of(survey))
    assert contacts(opted_out) == contacts(unsubscribed) == contacts(erased) == []


def test_people_who_accept_none_of_the_surveys_channels_are_held_with_the_reason(tenant_a):
    portal_only = AdvocateFactory(workspace=tenant_a.workspace, channels=["portal"])
    survey = survey_of(tenant_a, channels=["email"])

    result = send(survey)

    assert set(sends_of(survey)) == {tenant_a.advocate.pk}
    assert holds_of(survey) == {portal_only.pk: HoldReason.NO_CHANNEL}
    assert "email" in hold_detail(survey, portal_only)
    assert result.held == 1


def test_a_portal_survey_reaches_email_people_in_the_portal(tenant_a):
    survey = survey_of(tenant_a, channels=["portal"])
    send(survey)
    assert sends_of(survey) == {tenant_a.advocate.pk: "portal"}


@pytest.mark.parametrize("audience", ["tag", "type", "stage"])
def test_the_audience_is_a_tag_a_type_or_a_stage(tenant_a, audience):
    tag = TagFactory(workspace=tenant_a.workspace, name="vip")
    fits = AdvocateFactory(workspace=tenant_a.workspace, type="partner", stage=Stage.ALUMNI, tags=["vip"])
    fields = {"tag": {"audience_tag": tag}, "type": {"audience_type": "partner"}, "stage": {"audience_stage": Stage.ALUMNI}}
    survey = survey_of(tenant_a, audience=audience, **fields[audience])
    send(survey)
    assert set(sends_of(survey)) == {fits.pk}


def test_a_round_never_reaches_another_workspace(tenant_a, tenant_b):
    survey = survey_of(tenant_a)
    send(survey)
    assert tenant_b.advocate.pk not in sends_of(survey)
    assert contacts(tenant_b.advocate) == []


# --- The 90-day throttle -----------------------------------------------------------------------


@pytest.mark.parametrize("days_ago, sent", [(1, False), (89, False), (90, True), (200, True)])
def test_nobody_is_surveyed_twice_within_90_days_across_surveys(tenant_a, days_ago, sent):
    """Day 89 held (with the reason recorded), day 90 sent."""
    earlier = survey_of(tenant_a, name="Earlier", status=SurveyStatus.DONE)
    with time_machine.travel(NOW - timedelta(days=days_ago), tick=False):
        SurveySendFactory(survey=earlier, advocate=tenant_a.advocate, sent_at=timezone.now())
    survey = survey_of(tenant_a, next_run_at=NOW)

    with time_machine.travel(NOW, tick=False):
        send(survey)

    assert (tenant_a.advocate.pk in sends_of(survey)) is sent
    if not sent:
        assert holds_of(survey) == {tenant_a.advocate.pk: HoldReason.SURVEY_THROTTLE}
        assert "90 days" in hold_detail(survey, tenant_a.advocate)
    else:
        assert holds_of(survey) == {}


def test_the_throttle_counts_another_workspaces_sends_for_nobody(tenant_a, tenant_b):
    other = SurveyFactory(workspace=tenant_b.workspace)
    SurveySendFactory(survey=other, advocate=tenant_b.advocate)
    survey = survey_of(tenant_a)
    send(survey)
    assert tenant_a.advocate.pk in sends_of(survey)


def test_a_round_sent_twice_in_a_row_sends_nobody_twice(tenant_a):
    AdvocateFactory.create_batch(3, workspace=tenant_a.workspace)
    survey = survey_of(tenant_a, schedule="recurring", every_days=7)

    first = send(survey)
    with scopes_disabled():
        Survey.objects.filter(pk=survey.pk).update(next_run_at=timezone.now())
    second = send(survey)

    assert (first.sent, first.round) == (4, 1)
    assert (second.sent, second.held, second.round) == (0, 4, 2)
    with scopes_disabled():
        assert SurveySend.objects.filter(survey=survey).count() == 4
        assert Contact.objects.filter(kind=ContactKind.SURVEY).count() == 4
    assert set(holds_of(survey).values()) == {HoldReason.SURVEY_THROTTLE}


def test_a_survey_paused_after_the_job_read_it_sends_nothing(tenant_a):
    survey = survey_of(tenant_a)
    with workspace_scope(tenant_a.workspace):
        read_by_the_job = Survey.objects.get(pk=survey.pk)
        svc.pause_survey(survey=Survey.objects.get(pk=survey.pk), actor=tenant_a.manager)
        result = svc.send_round(survey=read_by_the_job)
    assert result.sent == 0
    assert sends_of(survey) == {}


def test_a_stale_copy_of_a_survey_claims_no_second_round(tenant_a):
    survey = survey_of(tenant_a)
    with workspace_scope(tenant_a.workspace):
        stale = Survey.objects.get(pk=survey.pk)
        svc.send_round(survey=Survey.objects.get(pk=survey.pk))
        again = svc.send_round(survey=stale)
    assert (again.sent, again.held, again.round) == (0, 0, 0)
    with scopes_disabled():
        assert SurveySend.objects.filter(survey=survey).count() == 1
        assert Survey.objects.get(pk=survey.pk).rounds == 1


# --- The shared contact budget --------------------------------------------------------------------


def offers(tenant, advocate, n, *, days_ago=(20, 12, 3)):
    program = ProgramFactory(workspace=tenant.workspace)
    for i in range(n):
        ask = AskFactory(program=program)
        with workspace_scope(tenant.workspace):
            create_offers(ask=ask, advocate_ids=[advocate.pk], now=NOW - timedelta(days=days_ago[i]))
    return AskFactory(program=program)


def test_three_offers_leave_room_for_one_survey_and_then_offers_are_held_by_the_budget(tenant_a):
    person = tenant_a.advocate
    next_ask = offers(tenant_a, person, 3)
    survey = survey_of(tenant_a)

    with time_machine.travel(NOW, tick=False):
        send(survey)
        assert sends_of(survey) == {person.pk: "email"}
        with workspace_scope(tenant_a.workspace):
            hold = offer_hold(advocate=person, ask=next_ask, now=timezone.now())
    assert hold is not None and hold.reason == HoldReason.BUDGET
    assert "4 contacts" in hold.detail


def test_four_offers_in_30_days_hold_the_survey_back_by_the_budget(tenant_a):
    person = tenant_a.advocate
    offers(tenant_a, person, 4, days_ago=(25, 20, 12, 3))
    survey = survey_of(tenant_a)
    with time_machine.travel(NOW, tick=False):
        result = send(survey)
    assert sends_of(survey) == {}
    assert holds_of(survey) == {person.pk: HoldReason.BUDGET}
    assert "4 contacts" in hold_detail(survey, person)
    assert result.held == 1


def test_a_survey_uses_the_budget_an_offer_needs_and_vice_versa(tenant_a):
    workspace = tenant_a.workspace
    workspace.max_contacts_per_30_days = 1
    workspace.save()
    surveyed = tenant_a.advocate
    offered = AdvocateFactory(workspace=workspace)
    next_ask = offers(tenant_a, offered, 1, days_ago=(2,))
    survey = survey_of(tenant_a)

    with time_machine.travel(NOW, tick=False):
        send(survey)
        with workspace_scope(workspace):
            hold = offer_hold(advocate=surveyed, ask=next_ask, now=timezone.now())

    assert sends_of(survey) == {surveyed.pk: "email"}
    assert holds_of(survey) == {offered.pk: HoldReason.BUDGET}
    assert hold is not None and hold.reason == HoldReason.BUDGET


def test_a_detractor_suppression_does_not_hold_a_survey(tenant_a):
    from advocacy.budget import suppress_asks
    from advocacy.models import Suppression

    with workspace_scope(tenant_a.workspace):
        suppress_asks(advocate=tenant_a.advocate, reason=Suppression.Reason.DETRACTOR)
    survey = survey_of(tenant_a)
    send(survey)
    assert tenant_a.advocate.pk in sends_of(survey)


def test_a_person_held_in_one_round_and_sent_in_a_later_one_loses_the_old_hold(tenant_a):
    earlier = survey_of(tenant_a, name="Earlier", status=SurveyStatus.DONE)
    SurveySendFactory(survey=earlier, advocate=tenant_a.advocate, sent_at=NOW - timedelta(days=60))
    survey = survey_of(tenant_a, schedule="recurring", every_days=30, next_run_at=NOW)
    with time_machine.travel(NOW, tick=False):
        send(survey)
    assert holds_of(survey) == {tenant_a.advocate.pk: HoldReason.SURVEY_THROTTLE}
    with time_machine.travel(NOW + timedelta(days=31), tick=False):
        send(survey)
    assert holds_of(survey) == {}
    with scopes_disabled():
        assert SurveySend.objects.get(survey=survey).round == 2


def test_a_rounds_query_count_does_not_grow_with_the_audience(tenant_a, django_assert_max_num_queries):
    small = survey_of(tenant_a, name="Small")
    with workspace_scope(tenant_a.workspace):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as few:
            svc.send_round(survey=Survey.objects.get(pk=small.pk))
    AdvocateFactory.create_batch(40, workspace=tenant_a.workspace)
    AdvocateFactory.create_batch(5, workspace=tenant_a.workspace, channels=["portal"])
    big = survey_of(tenant_a, name="Big", channels=["email"])
    with workspace_scope(tenant_a.workspace), CaptureQueriesContext(connection) as many:
        result = svc.send_round(survey=Survey.objects.get(pk=big.pk))
    assert result.sent == 40
    # Constant per round whatever the audience: the held people add one explaining query
    # and one upsert of their holds.
    assert len(many.captured_queries) <= len(few.captured_queries) + 3


# --- Schedules, the job and the command ---------------------------------------------------------------


def test_a_one_off_survey_is_done_after_its_round_and_a_recurring_one_comes_back(tenant_a):
    once = survey_of(tenant_a, name="Once")
    recurring = survey_of(tenant_a, name="Recurring", schedule="recurring", every_days=120, next_run_at=NOW)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        send(once)
        send(recurring)
    with scopes_disabled():
        once.refresh_from_db()
        recurring.refresh_from_db()
    assert (once.status, once.next_run_at, once.rounds) == (SurveyStatus.DONE, None, 1)
    assert recurring.status == SurveyStatus.ACTIVE
    assert recurring.next_run_at == NOW + timedelta(days=120)
    assert recurring.last_run_at == NOW + timedelta(minutes=5)


def test_the_job_sends_the_due_active_surveys_of_every_workspace_only(tenant_a, tenant_b):
    due_a = survey_of(tenant_a, name="Due", next_run_at=NOW - timedelta(hours=1))
    due_b = survey_of(tenant_b, name="Due", next_run_at=NOW - timedelta(hours=1))
    later = survey_of(tenant_a, name="Later", next_run_at=NOW + timedelta(hours=1))
    paused = survey_of(tenant_a, name="Paused", status=SurveyStatus.PAUSED, next_run_at=NOW - timedelta(days=1))
    draft = survey_of(tenant_a, name="Draft", status=SurveyStatus.DRAFT, next_run_at=None)

    with time_machine.travel(NOW, tick=False):
        assert svc.send_due_surveys() == 2
        assert svc.send_due_surveys() == 0

    assert sends_of(due_a) == {tenant_a.advocate.pk: "email"}
    assert sends_of(due_b) == {tenant_b.advocate.pk: "email"}
    assert sends_of(later) == sends_of(paused) == sends_of(draft) == {}


def test_the_celery_job_fans_out_per_workspace(tenant_a, tenant_b):
    from nps.tasks import send_surveys

    survey_of(tenant_a, next_run_at=NOW - timedelta(minutes=1))
    survey_of(tenant_b, next_run_at=NOW - timedelta(minutes=1))
    with time_machine.travel(NOW, tick=False):
        assert send_surveys.apply().get() == 2
    with scopes_disabled():
        assert SurveySend.objects.count() == 2


def test_the_command_sends_due_rounds_of_one_workspace(tenant_a, tenant_b, capsys):
    survey_of(tenant_a, next_run_at=NOW - timedelta(minutes=1))
    other = survey_of(tenant_b, next_run_at=NOW - timedelta(minutes=1))
    call_command("send_surveys", "--workspace", tenant_a.workspace.slug)
    out = capsys.readouterr().out
    assert "Quarterly round 1: 1 person sent, 0 held back" in out
    assert "1 round in 1 workspace" in out
    assert sends_of(other) == {}


def test_send_now_sends_a_draft_at_once_and_refuses_a_done_survey(tenant_a):
    survey = survey_of(tenant_a, status=SurveyStatus.DRAFT, next_run_at=None)
    with workspace_scope(tenant_a.workspace):
        result = svc.send_survey_now(survey=survey, actor=tenant_a.manager)
        assert (result.sent, result.round) == (1, 1)
        survey.refresh_from_db()
        assert survey.status == SurveyStatus.DONE
        with pytest.raises(InvalidTransition):
            svc.send_survey_now(survey=survey, actor=tenant_a.manager)


def test_send_now_of_a_draft_recurring_survey_activates_it(tenant_a):
    survey = survey_of(tenant_a, status=SurveyStatus.DRAFT, next_run_at=None, schedule="recurring", every_days=100)
    with time_machine.travel(NOW, tick=False), workspace_scope(tenant_a.workspace):
        svc.send_survey_now(survey=survey, actor=tenant_a.manager)
        survey.refresh_from_db()
    assert (survey.status, survey.next_run_at) == (SurveyStatus.ACTIVE, NOW + timedelta(days=100))


# --- The email ------------------------------------------------------------------------------------


def test_the_email_asks_the_question_with_eleven_score_links_and_an_unsubscribe_link(tenant_a, django_capture_on_commit_callbacks):
    survey = survey_of(tenant_a, question="How likely are you to recommend {company} to a friend?")
    portal_only = AdvocateFactory(workspace=tenant_a.workspace, channels=["portal"])
    with django_capture_on_commit_callbacks(execute=True):
        send(survey)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [tenant_a.advocate.email]
    assert portal_only.email not in message.to
    assert tenant_a.workspace.name in message.subject
    assert f"How likely are you to recommend {tenant_a.workspace.name} to a friend?" in message.body
    html = message.alternatives[0][0]
    with scopes_disabled():
        token_send = SurveySend.objects.get(survey=survey, advocate=tenant_a.advocate)
    for n in range(11):
        assert f"?score={n}\n" in message.body or f"?score={n}" in message.body
        assert f"?score={n}\"" in html
    token = message.body.split("/s/")[1].split("?")[0]
    assert read_token(token) == token_send.pk
    assert "/u/" in message.body and "List-Unsubscribe" in message.extra_headers


def test_a_redelivered_email_task_sends_no_second_copy(tenant_a, django_capture_on_commit_callbacks):
    from nps.tasks import send_survey_emails

    survey = survey_of(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        send(survey)
    with scopes_disabled():
        ids = list(SurveySend.objects.values_list("pk", flat=True))
    send_survey_emails.apply(kwargs={"workspace_id": tenant_a.workspace.pk, "send_ids": ids}).get()
    assert len(mail.outbox) == 1


def test_someone_who_unsubscribes_before_the_email_goes_gets_none(tenant_a, django_capture_on_commit_callbacks):
    from nps.tasks import send_survey_emails

    survey = survey_of(tenant_a)
    send(survey)  # without running the queued email
    with scopes_disabled():
        ids = list(SurveySend.objects.values_list("pk", flat=True))
        tenant_a.advocate.channels = ["portal"]
        tenant_a.advocate.save()
    assert send_survey_emails.apply(kwargs={"workspace_id": tenant_a.workspace.pk, "send_ids": ids}).get() == 0
    assert mail.outbox == []


def test_a_round_with_an_older_clock_than_a_committed_round_surveys_nobody_twice(tenant_a):
    """The job's ``now`` was read before a manager's "Send now" of another survey: the
    sends stamped after that ``now`` still hold the people back (no upper bound)."""
    AdvocateFactory.create_batch(3, workspace=tenant_a.workspace)
    first = survey_of(tenant_a, name="A", channels=["email"])
    second = survey_of(tenant_a, name="B", channels=["email"])
    job_now = timezone.now()
    assert send(first, now=job_now + timedelta(minutes=2)).sent == 4
    result = send(second, now=job_now)
    assert (result.sent, result.held) == (0, 4)
    with scopes_disabled():
        assert set(ContactHold.objects.filter(subject_id=second.pk).values_list("reason", flat=True)) == {
            HoldReason.SURVEY_THROTTLE}
        assert SurveySend.objects.count() == 4


def test_the_job_without_a_clock_reads_it_for_each_round(tenant_a, monkeypatch):
    survey = survey_of(tenant_a)
    seen = []
    real = svc.send_round
    monkeypatch.setattr(svc, "send_round", lambda *, survey, now=None: seen.append(now) or real(survey=survey, now=now))
    with workspace_scope(tenant_a.workspace):
        assert svc.send_due_surveys(workspace=tenant_a.workspace) == 1
    assert seen == [None]
    with scopes_disabled():
        assert Survey.objects.get(pk=survey.pk).rounds == 1


def test_a_failed_survey_email_is_sent_by_the_retry(tenant_a, monkeypatch):
    """The dedupe mark is removed when sending fails, so the task's retry emails them."""
    from nps import notifications

    survey = survey_of(tenant_a, channels=["email"])
    send_row = SurveySendFactory(survey=survey, advocate=tenant_a.advocate, channel="email")
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs["advocate"].pk)
        if len(calls) == 1:
            raise OSError("SMTP is down")
        return True

    monkeypatch.setattr(notifications, "email_advocate", flaky)
    with workspace_scope(tenant_a.workspace):
        with pytest.raises(OSError):
            notifications.send_survey_emails(workspace_id=tenant_a.workspace.pk, send_ids=[send_row.pk])
        assert notifications.send_survey_emails(workspace_id=tenant_a.workspace.pk, send_ids=[send_row.pk]) == 1
        # Sent once: a redelivery after success sends no second copy.
        assert notifications.send_survey_emails(workspace_id=tenant_a.workspace.pk, send_ids=[send_row.pk]) == 0
    assert calls == [tenant_a.advocate.pk, tenant_a.advocate.pk]
