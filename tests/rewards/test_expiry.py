"""Points expiry (PRODUCT.md "Rewards"): points expire N months after they were earned,
oldest first, written as ``expire`` entries by a daily job that is idempotent; advocates
are told 14 days before, once. Also the hourly release of held rewards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advocacy.models import Advocate
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards import tasks
from rewards.jobs import expire_points, points_expiring
from rewards.models import EntryKind, ExpiryNotice, HeldReward, LedgerEntry, RewardSettings
from rewards.queries import ledger_mismatches
from rewards.services import credit_points, debit_points, hold_points
from tests.factories import AdvocateFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def expiring(tenant_a):
    """Tenant A's points expire after 12 months."""
    with scopes_disabled():
        RewardSettings.objects.create(workspace=tenant_a.workspace, points_expire_after_months=12)
    return tenant_a


def at(when: datetime):
    return time_machine.travel(when, tick=False)


def credit(advocate, amount, key, when):
    with at(when), workspace_scope(advocate.workspace):
        return credit_points(advocate=advocate, amount=amount, kind=EntryKind.EARN_BONUS, reason="earned", idempotency_key=key)


def redeem(advocate, amount, key, when):
    with at(when), workspace_scope(advocate.workspace):
        return debit_points(advocate=advocate, amount=amount, kind=EntryKind.REDEEM, reason="mug", idempotency_key=key)


def run(workspace, when):
    with at(when), workspace_scope(workspace):
        return expire_points(workspace=workspace)


def reload(advocate) -> Advocate:
    with scopes_disabled():
        return Advocate.objects.get(pk=advocate.pk)


def expired(advocate) -> list[int]:
    with scopes_disabled():
        return list(LedgerEntry.objects.filter(advocate=advocate, kind=EntryKind.EXPIRE).order_by("id").values_list("amount", flat=True))


def assert_ledger_clean():
    with scopes_disabled():
        assert ledger_mismatches() == []


def test_a_credit_exactly_n_months_old_expires_and_one_a_day_younger_does_not(expiring):
    a = expiring.advocate
    credit(a, 100, "old", T0)
    credit(a, 50, "younger", T0 + timedelta(days=1))
    result = run(expiring.workspace, datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    assert (result.expired_entries, result.expired_points) == (1, 100)
    assert expired(a) == [-100]
    assert reload(a).points_balance == 50
    assert reload(a).lifetime_points == 150  # expiry never takes away tier progress
    assert_ledger_clean()


def test_a_credit_one_second_short_of_n_months_does_not_expire(expiring):
    credit(expiring.advocate, 100, "old", T0)
    run(expiring.workspace, datetime(2026, 3, 10, 11, 59, 59, tzinfo=UTC))
    assert expired(expiring.advocate) == []


def test_spending_consumes_the_oldest_credits_first(expiring):
    a = expiring.advocate
    credit(a, 100, "march", T0)
    credit(a, 100, "may", T0 + timedelta(days=61))
    redeem(a, 150, "spend", T0 + timedelta(days=90))
    # A year after the first credit: the 150 spent used all of it, nothing expires.
    run(expiring.workspace, T0 + timedelta(days=366))
    assert expired(a) == []
    # A year after the second: 50 of it were spent, the other 50 expire.
    run(expiring.workspace, T0 + timedelta(days=61 + 366))
    assert expired(a) == [-50]
    assert reload(a).points_balance == 0
    assert_ledger_clean()


def test_running_twice_writes_nothing_the_second_time(expiring):
    a = expiring.advocate
    credit(a, 100, "old", T0)
    when = datetime(2026, 4, 1, 3, 5, tzinfo=UTC)
    assert run(expiring.workspace, when).expired_entries == 1
    again = run(expiring.workspace, when)
    later_that_day = run(expiring.workspace, when + timedelta(hours=5))
    next_month = run(expiring.workspace, when + timedelta(days=30))
    assert again.expired_entries == later_that_day.expired_entries == next_month.expired_entries == 0
    assert expired(a) == [-100]
    assert_ledger_clean()


def test_a_credit_that_became_old_after_an_expiry_expires_on_a_later_run(expiring):
    a = expiring.advocate
    credit(a, 100, "first", T0)
    credit(a, 40, "second", T0 + timedelta(days=10))
    run(expiring.workspace, T0 + timedelta(days=366))
    run(expiring.workspace, T0 + timedelta(days=376))
    assert expired(a) == [-100, -40]
    assert reload(a).points_balance == 0


def test_expired_points_are_capped_at_the_balance(expiring):
    a = expiring.advocate
    credit(a, 100, "old", T0)
    # A refund after a redemption is a new credit: its clock starts again.
    redeem(a, 100, "spend", T0 + timedelta(days=300))
    with at(T0 + timedelta(days=301)), workspace_scope(a.workspace):
        credit_points(advocate=a, amount=100, kind=EntryKind.REFUND, reason="refund", idempotency_key="refund")
    run(expiring.workspace, T0 + timedelta(days=366))
    assert expired(a) == [] and reload(a).points_balance == 100


def test_workspaces_without_expiry_and_other_workspaces_are_untouched(expiring, tenant_b):
    credit(expiring.advocate, 100, "a", T0)
    credit(tenant_b.advocate, 100, "b", T0)
    run(tenant_b.workspace, T0 + timedelta(days=800))
    run(expiring.workspace, T0 + timedelta(days=800))
    assert expired(tenant_b.advocate) == [] and reload(tenant_b.advocate).points_balance == 100
    assert expired(expiring.advocate) == [-100]


def test_candidates_are_computed_in_one_grouped_query(expiring):
    advocates = [AdvocateFactory(workspace=expiring.workspace) for _ in range(5)]
    for i, adv in enumerate(advocates):
        credit(adv, 10 + i, f"c{i}", T0)
    with workspace_scope(expiring.workspace), CaptureQueriesContext(connection) as ctx:
        due = points_expiring(expiring.workspace, cutoff=T0 + timedelta(days=1))
    assert len(ctx.captured_queries) == 1
    assert due == {adv.pk: 10 + i for i, adv in enumerate(advocates)}


# --- the 14-day notice --------------------------------------------------------------------------


def test_advocates_are_told_14_days_before_once(expiring, mailoutbox, django_capture_on_commit_callbacks):
    a = expiring.advocate
    credit(a, 100, "old", T0)
    two_weeks_before = datetime(2026, 2, 24, 12, 0, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        run(expiring.workspace, two_weeks_before - timedelta(days=1))
    assert mailoutbox == []
    with django_capture_on_commit_callbacks(execute=True):
        assert run(expiring.workspace, two_weeks_before).notices == 1
        run(expiring.workspace, two_weeks_before)
        run(expiring.workspace, two_weeks_before + timedelta(days=1))
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [a.email]
    assert "100 of your points expire on 10 March 2026" in mail.subject
    with scopes_disabled():
        notice = ExpiryNotice.objects.get(advocate=a)
    assert (notice.points, notice.expires_on.isoformat()) == (100, "2026-03-10")
    assert expired(a) == []  # told, not yet taken


def test_points_spent_before_the_notice_are_not_announced(expiring, mailoutbox, django_capture_on_commit_callbacks):
    a = expiring.advocate
    credit(a, 100, "old", T0)
    redeem(a, 100, "spend", T0 + timedelta(days=30))
    with django_capture_on_commit_callbacks(execute=True):
        run(expiring.workspace, datetime(2026, 2, 24, 12, 0, tzinfo=UTC))
    assert mailoutbox == []


def test_advocates_without_the_email_channel_get_no_notice_email(expiring, mailoutbox, django_capture_on_commit_callbacks):
    a = expiring.advocate
    with scopes_disabled():
        Advocate.objects.filter(pk=a.pk).update(channels=["portal"])
    credit(reload(a), 100, "old", T0)
    with django_capture_on_commit_callbacks(execute=True):
        run(expiring.workspace, datetime(2026, 2, 24, 12, 0, tzinfo=UTC))
    assert mailoutbox == []
    with scopes_disabled():
        assert ExpiryNotice.objects.filter(advocate=a).count() == 1


# --- entry points -------------------------------------------------------------------------------


def test_expire_points_command_and_beat_task(expiring, tenant_b):
    credit(expiring.advocate, 100, "old", T0)
    with at(T0 + timedelta(days=400)):
        call_command("expire_points")
        assert tasks.expire_points() == 1  # fans out to the one workspace with expiry
    assert expired(expiring.advocate) == [-100]
    assert_ledger_clean()


def test_jobs_are_on_the_beat_schedule():
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"rewards.tasks.expire_points", "rewards.tasks.release_held_rewards"} <= tasks_scheduled


def test_held_rewards_are_released_once_by_the_task_and_the_command(tenant_a):
    a = tenant_a.advocate
    with at(T0), workspace_scope(a.workspace):
        hold_points(advocate=a, amount=300, kind=EntryKind.EARN_REFERRAL, reason="Referral converted",
                    held_because="30-day hold", release_at=T0 + timedelta(days=30), idempotency_key="ref-1")
    with at(T0 + timedelta(days=29)):
        assert tasks.release_held_rewards() == 0
    with at(T0 + timedelta(days=30)):
        assert tasks.release_held_rewards() == 1
        call_command("release_held_rewards")
        assert tasks.release_held_rewards() == 0
    assert reload(a).points_balance == 300
    with scopes_disabled():
        assert HeldReward.objects.get(advocate=a).status == HeldReward.Status.RELEASED
    assert_ledger_clean()
