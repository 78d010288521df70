"""The scheduled jobs of programs (PRODUCT.md "Fatigue" daily job, "Programs and asks"
expiry, "Notifications" reminders), each safe to rerun: check_fatigue pauses after three
declined or expired offers with a check-in task, suggests alumni after 180 quiet days and
opens a check-in after 180 days without a personal follow-up; expire_assignments expires
offers untaken for 7 days and work past its deadline; reminders go once. Also the Celery
tasks and beat entries, and the commands that run each job once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from advocacy.celery import app as celery_app
from advocacy.models import Stage, Task, TaskKind
from advocacy.scoping import scopes_disabled, workspace_scope
from advocacy.services.advocates import change_stage
from advocacy.services.tasks import close_task, open_task
from programs import tasks
from programs.jobs import check_fatigue
from programs.models import AskStatus, Assignment, AssignmentState
from programs.services import expire_assignments, send_reminders
from tests.factories import AdvocateFactory, AssignmentFactory

from .rotation_builders import (
    T0,
    at,
    days,
    make_ask,
    make_workspace,
    offered,
    past_offer,
    people,
    reload,
)

pytestmark = pytest.mark.django_db
S = AssignmentState


def run_check(workspace, when):
    with workspace_scope(workspace), at(when):
        return check_fatigue(workspace=workspace, now=when)


def tasks_of(advocate, kind=None) -> list[Task]:
    with scopes_disabled():
        qs = Task.objects.filter(advocate=advocate).order_by("pk")
        return list(qs.filter(kind=kind) if kind else qs)


def answered(person, *states, start=T0):
    """Offers to ``person`` a week apart, answered with ``states`` (in that order)."""
    return [past_offer(person, start + days(7 * i), state=state) for i, state in enumerate(states)]


@pytest.fixture
def workspace(db):
    return make_workspace()


@pytest.fixture
def person(workspace):
    return AdvocateFactory(workspace=workspace, name="Ada Lovelace", stage_changed_at=T0 - days(10))


# --- Pause after three declines -------------------------------------------------------------


def test_three_offers_in_a_row_declined_or_expired_pause_the_advocate_and_open_a_check_in(person):
    answered(person, S.DECLINED, S.EXPIRED, S.DECLINED)

    result = run_check(person.workspace, T0 + days(20))

    assert result.paused == 1
    assert reload(person).stage == Stage.PAUSED
    [task] = tasks_of(person)
    assert (task.kind, task.status, task.title) == (TaskKind.CHECK_IN, Task.Status.OPEN, "Personal check-in with Ada Lovelace")
    assert "declined or let expire their last 3 offers" in task.detail


def test_the_pause_and_its_task_happen_once(person):
    answered(person, S.DECLINED, S.DECLINED, S.DECLINED)
    run_check(person.workspace, T0 + days(20))
    again = run_check(person.workspace, T0 + days(21))
    assert again.paused == 0
    assert len(tasks_of(person, TaskKind.CHECK_IN)) == 1


def test_two_declines_do_not_pause(person):
    answered(person, S.DECLINED, S.EXPIRED)
    assert run_check(person.workspace, T0 + days(20)).paused == 0
    assert reload(person).stage == Stage.ACTIVE


@pytest.mark.parametrize("kept", [S.ACCEPTED, S.SUBMITTED, S.APPROVED, S.REJECTED])
def test_taking_part_in_between_breaks_the_streak(person, kept):
    answered(person, S.DECLINED, S.DECLINED, kept, S.DECLINED, S.EXPIRED)
    assert run_check(person.workspace, T0 + days(40)).paused == 0


def test_open_and_withdrawn_offers_neither_count_nor_break_the_streak(person):
    answered(person, S.DECLINED, S.WITHDRAWN, S.EXPIRED, S.OFFERED, S.DECLINED)
    assert run_check(person.workspace, T0 + days(40)).paused == 1


def test_declines_before_the_advocate_was_reactivated_do_not_pause_them_again(person):
    answered(person, S.DECLINED, S.DECLINED, S.DECLINED)
    run_check(person.workspace, T0 + days(20))
    with workspace_scope(person.workspace), at(T0 + days(25)):
        change_stage(advocate=reload(person), stage=Stage.ACTIVE, actor=None, reason="Back from leave")

    assert run_check(person.workspace, T0 + days(26)).paused == 0
    assert reload(person).stage == Stage.ACTIVE


def test_only_active_advocates_are_paused(workspace):
    alumna = AdvocateFactory(workspace=workspace, stage=Stage.ACTIVE, stage_changed_at=T0 - days(10))
    answered(alumna, S.DECLINED, S.DECLINED, S.DECLINED)
    with scopes_disabled():
        type(alumna).objects.filter(pk=alumna.pk).update(stage=Stage.ALUMNI)
    assert run_check(workspace, T0 + days(20)).paused == 0


# --- Alumni suggestions ---------------------------------------------------------------------


def quiet(workspace, days_quiet, **fields):
    return AdvocateFactory(workspace=workspace, last_activity_at=T0 - days(days_quiet),
                           stage_changed_at=T0 - days(400), **fields)


def test_180_days_without_activity_suggests_alumni_once_without_changing_the_stage(workspace):
    person = quiet(workspace, 181, name="Grace Hopper")

    result = run_check(workspace, T0)
    again = run_check(workspace, T0 + days(1))

    assert (result.alumni_suggested, again.alumni_suggested) == (1, 0)
    [task] = tasks_of(person, TaskKind.ALUMNI)
    assert task.title == "Suggest alumni: Grace Hopper"
    assert "No activity since 3 Sep 2024" in task.detail
    assert reload(person).stage == Stage.ACTIVE


def test_179_days_without_activity_is_not_yet_quiet(workspace):
    quiet(workspace, 179)
    assert run_check(workspace, T0).alumni_suggested == 0


def test_no_activity_at_all_counts_from_the_last_stage_change(workspace):
    long_ago = AdvocateFactory(workspace=workspace, last_activity_at=None, stage_changed_at=T0 - days(200))
    AdvocateFactory(workspace=workspace, last_activity_at=None, stage_changed_at=T0 - days(100))
    assert run_check(workspace, T0).alumni_suggested == 1
    assert len(tasks_of(long_ago, TaskKind.ALUMNI)) == 1


def test_paused_advocates_are_suggested_too_but_not_alumni_or_opted_out(workspace):
    paused = quiet(workspace, 200, stage=Stage.PAUSED)
    quiet(workspace, 200, stage=Stage.ALUMNI)
    quiet(workspace, 200, stage=Stage.OPTED_OUT)
    assert run_check(workspace, T0).alumni_suggested == 1
    assert tasks_of(paused, TaskKind.ALUMNI)


def test_taking_part_in_an_ask_is_activity(workspace):
    person = quiet(workspace, 300)
    AssignmentFactory(ask=make_ask(workspace, status=AskStatus.CLOSED), advocate=person, state=S.ACCEPTED,
                      offered_at=T0 - days(40), accepted_at=T0 - days(38))
    assert run_check(workspace, T0).alumni_suggested == 0


def test_a_dismissed_suggestion_comes_back_only_after_a_new_quiet_spell(workspace):
    person = quiet(workspace, 181)
    run_check(workspace, T0)
    [task] = tasks_of(person, TaskKind.ALUMNI)
    with workspace_scope(workspace):
        close_task(task=task, actor=None, status=Task.Status.DISMISSED)
    assert run_check(workspace, T0 + days(30)).alumni_suggested == 0

    with scopes_disabled():
        type(person).objects.filter(pk=person.pk).update(last_activity_at=T0 + days(40))
    assert run_check(workspace, T0 + days(221)).alumni_suggested == 1


# --- Check-ins every 180 days ---------------------------------------------------------------


def long_active(workspace, **fields):
    return AdvocateFactory(workspace=workspace, last_activity_at=T0 - days(1), stage_changed_at=T0 - days(365), **fields)


def test_an_active_advocate_without_a_personal_follow_up_for_180_days_gets_a_check_in_once(workspace):
    person = long_active(workspace, name="Katherine Johnson")

    result = run_check(workspace, T0)
    again = run_check(workspace, T0 + days(1))

    assert (result.check_ins, again.check_ins) == (1, 0)
    [task] = tasks_of(person, TaskKind.CHECK_IN)
    assert task.title == "Personal check-in with Katherine Johnson"


@pytest.mark.parametrize(("kind", "done_days_ago", "due"), [
    (TaskKind.CHECK_IN, 179, False),
    (TaskKind.CHECK_IN, 181, True),
    (TaskKind.FOLLOW_UP, 100, False),
    (TaskKind.DETRACTOR, 100, False),
    (TaskKind.ALUMNI, 100, True),
])
def test_a_personal_follow_up_done_in_the_last_180_days_defers_the_check_in(workspace, kind, done_days_ago, due):
    person = long_active(workspace)
    with workspace_scope(workspace):
        task = open_task(workspace=workspace, kind=kind, advocate=person, title="Talked")
        with at(T0 - days(done_days_ago)):
            close_task(task=task, actor=None, notes="Had coffee")
    assert run_check(workspace, T0).check_ins == (1 if due else 0)


def test_an_open_follow_up_task_defers_the_check_in(workspace):
    person = long_active(workspace)
    with workspace_scope(workspace):
        open_task(workspace=workspace, kind=TaskKind.FOLLOW_UP, advocate=person, title="Send the case study draft")
    assert run_check(workspace, T0).check_ins == 0


def test_advocates_active_for_less_than_180_days_need_no_check_in_yet(workspace):
    AdvocateFactory(workspace=workspace, last_activity_at=T0, stage_changed_at=T0 - days(100))
    assert run_check(workspace, T0).check_ins == 0


def test_a_paused_advocate_gets_one_check_in_not_two(person):
    with scopes_disabled():
        type(person).objects.filter(pk=person.pk).update(stage_changed_at=T0 - days(400))
    answered(person, S.DECLINED, S.DECLINED, S.DECLINED, start=T0 - days(30))

    result = run_check(person.workspace, T0)

    assert (result.paused, result.check_ins) == (1, 0)
    assert len(tasks_of(person, TaskKind.CHECK_IN)) == 1


def test_the_fatigue_check_never_touches_another_workspace(workspace):
    other = make_workspace()
    stranger = quiet(other, 300)
    run_check(workspace, T0)
    assert tasks_of(stranger) == []


# --- Expiry and reminders -------------------------------------------------------------------


def expire(workspace, when):
    with workspace_scope(workspace), at(when):
        return expire_assignments(workspace=workspace, now=when)


def state_of(assignment):
    with scopes_disabled():
        return Assignment.objects.get(pk=assignment.pk).state


def test_an_offer_untaken_for_7_days_expires_and_not_a_second_before(person):
    offer = past_offer(person, T0)
    assert expire(person.workspace, T0 + days(7) - days(1) / 86400) == 0
    assert state_of(offer) == S.OFFERED
    assert expire(person.workspace, T0 + days(7)) == 1
    assert state_of(offer) == S.EXPIRED
    assert expire(person.workspace, T0 + days(8)) == 0


def test_work_past_its_asks_deadline_expires_and_the_ask_closes(workspace):
    ask = make_ask(workspace, deadline=T0 + days(3))
    accepted = AssignmentFactory(ask=ask, state=S.ACCEPTED, offered_at=T0, offer_expires_at=T0 + days(7))
    submitted = AssignmentFactory(ask=ask, state=S.SUBMITTED, offered_at=T0, offer_expires_at=T0 + days(7))

    assert expire(workspace, T0 + days(3)) == 1

    assert (state_of(accepted), state_of(submitted)) == (S.EXPIRED, S.SUBMITTED)  # submitted proof still gets its decision
    with scopes_disabled():
        ask.refresh_from_db()
    assert ask.status == AskStatus.CLOSED


def test_a_reminder_goes_once_two_days_before_the_offer_expires(person, django_capture_on_commit_callbacks, mailoutbox):
    offer = past_offer(person, T0)
    with workspace_scope(person.workspace), django_capture_on_commit_callbacks(execute=True):
        assert send_reminders(workspace=person.workspace, now=T0 + days(4)) == 0
        assert send_reminders(workspace=person.workspace, now=T0 + days(5)) == 1
        assert send_reminders(workspace=person.workspace, now=T0 + days(6)) == 0
    assert len(mailoutbox) == 1
    with scopes_disabled():
        assert Assignment.objects.get(pk=offer.pk).reminded_at == T0 + days(5)


# --- Tasks, beat and commands ---------------------------------------------------------------


def test_the_beat_schedule_runs_every_job_of_programs():
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in ("programs.tasks.rotate_asks", "programs.tasks.check_fatigue", "programs.tasks.expire_assignments",
                 "programs.tasks.send_reminders"):
        assert name in schedule and name in celery_app.tasks
    assert schedule["programs.tasks.rotate_asks"].minute == set(range(0, 60, 15))


def test_the_rotation_task_rotates_every_workspace_with_open_asks(db):
    busy, idle = make_workspace(), make_workspace()
    people(busy, 2)
    people(idle, 2)
    ask = make_ask(busy)

    assert tasks.rotate_asks.delay().get() == 1

    assert len(offered(ask)) == 2


def test_the_daily_fatigue_task_runs_in_every_workspace(workspace):
    quiet(workspace, 200)
    quiet(make_workspace(), 200)
    assert tasks.check_fatigue.delay().get() >= 2
    with scopes_disabled():
        assert Task.objects.filter(kind=TaskKind.ALUMNI).count() == 2


def test_the_hourly_tasks_expire_offers_and_send_reminders(person):
    with at(T0 + days(30)):
        lapsed = past_offer(person, T0 + days(20))  # a week old by now
        reminded = past_offer(person, T0 + days(25))  # expires within 2 days
        assert tasks.expire_assignments.delay().get() == 1  # one workspace with open offers
        assert tasks.send_reminders.delay().get() == 1
    assert (state_of(lapsed), state_of(reminded)) == (S.EXPIRED, S.OFFERED)
    with scopes_disabled():
        assert Assignment.objects.get(pk=reminded.pk).reminded_at == T0 + days(30)


def command(name, *args, **options) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, **options)
    return out.getvalue()


def test_the_rotate_asks_command_runs_one_rotation_and_says_what_it_did(workspace):
    people(workspace, 3)
    ask = make_ask(workspace, capacity=1, overbook=2)
    make_workspace(slug="other-co")

    with at(T0):
        out = command("rotate_asks", workspace=workspace.slug)

    assert f"{workspace.slug}: 2 offers for 1 of 1 asks with free places, 0 held back" in out
    assert "other-co" not in out
    assert len(offered(ask)) == 2
    with at(T0):
        assert "0 offers" in command("rotate_asks")


def test_the_check_fatigue_command_reports_its_three_counts(workspace):
    quiet(workspace, 200)
    long_active(workspace)
    with at(T0):
        out = command("check_fatigue", workspace=workspace.slug)
    assert f"{workspace.slug}: 0 paused, 1 alumni suggestion, 2 check-in tasks" in out


def test_the_expire_assignments_command_expires_and_reminds(person):
    past_offer(person, T0)  # a week old: expires
    past_offer(person, T0 + days(1))  # expires within two days: reminded
    with at(T0 + days(7)):
        out = command("expire_assignments")
    assert f"{person.workspace.slug}: 1 assignment expired, 1 reminder sent" in out
    with at(T0 + days(7)):
        assert f"{person.workspace.slug}: 0 assignments expired, 0 reminders sent" in command("expire_assignments")


@pytest.mark.parametrize("name", ["rotate_asks", "check_fatigue", "expire_assignments"])
def test_a_command_for_an_unknown_workspace_fails_cleanly(db, name):
    with pytest.raises(CommandError, match="No workspace 'nope'"):
        command(name, workspace="nope")


def test_accepted_work_overtaken_by_a_deadline_is_not_a_decline_and_breaks_the_streak(person):
    offers = answered(person, S.DECLINED, S.DECLINED, S.EXPIRED, S.EXPIRED)
    with scopes_disabled():
        # The last two were accepted, then their asks' deadlines passed.
        Assignment.objects.filter(pk__in=[o.pk for o in offers[2:]]).update(accepted_at=T0 + days(15))
    assert run_check(person.workspace, T0 + days(40)).paused == 0
    assert reload(person).stage == Stage.ACTIVE
