"""Conversions: idempotent on the external id, first touch wins within the attribution
window (day 90 counted, day 91 not), unattributed otherwise; two-sided rewards exactly once,
held for the hold period; coupons from the pool; flagged referrals wait for a manager."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from advocacy.errors import Conflict, InvalidTransition, ValidationFailed
from advocacy.models import AuditLog, Task
from advocacy.scoping import workspace_scope
from referrals.models import Conversion, Coupon, ReferralState
from referrals.services import clear_flags, qualify_referral, record_conversion, reject_referral
from rewards.models import AdvocateFact, HeldReward, LedgerEntry
from rewards.services import release_held_rewards
from tests.factories import AdvocateFactory

from .builders import add_pool, configure, lead, make_code

pytestmark = pytest.mark.django_db

EMAIL = "friend@prospect.example"


def convert(workspace, external_id="deal-1", email=EMAIL, value="1200.00", currency="EUR", **kwargs):
    with workspace_scope(workspace):
        return record_conversion(workspace=workspace, external_id=external_id, referee_email=email, value=value,
                                 currency=currency, **kwargs)


def held(workspace):
    return list(HeldReward.objects.with_scopes_disabled().filter(workspace=workspace).order_by("idempotency_key"))


def fact(advocate) -> int:
    row = AdvocateFact.objects.with_scopes_disabled().filter(advocate=advocate, fact="referrals_converted").first()
    return row.count if row else 0


def test_a_conversion_converts_the_referral_and_holds_the_referrers_points(tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referrer_points=300, hold_days=30, referee_reward="none")
    referral = lead(code, EMAIL)
    conversion = convert(tenant_a.workspace, email="Friend@Prospect.example", currency="eur")
    assert conversion.created and conversion.attributed and conversion.referral_id == referral.pk
    assert (conversion.currency, str(conversion.value)) == ("EUR", "1200.00")
    referral.refresh_from_db()
    assert referral.state == ReferralState.CONVERTED and referral.converted_at and referral.rewarded_at
    [hold] = held(tenant_a.workspace)
    assert (hold.advocate_id, hold.amount, hold.kind, hold.idempotency_key) == (code.advocate_id, 300, "earn_referral", f"referral:{referral.pk}:referrer")
    assert "held for 30 days" in hold.held_because
    assert timedelta(days=29, hours=23) < hold.release_at - timezone.now() <= timedelta(days=30)
    assert fact(code.advocate) == 1


def test_a_repeat_of_the_same_external_id_returns_the_first_and_counts_once(tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="none")
    lead(code, EMAIL)
    first = convert(tenant_a.workspace)
    again = convert(tenant_a.workspace, value="99")
    assert again.pk == first.pk and not again.created and str(again.value) == "1200.00"
    assert Conversion.objects.with_scopes_disabled().count() == 1
    assert len(held(tenant_a.workspace)) == 1
    assert fact(code.advocate) == 1


def test_the_hold_period_keeps_points_unspendable_until_the_release_job(tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referrer_points=250, hold_days=30, referee_reward="none")
    lead(code, EMAIL)
    convert(tenant_a.workspace)
    advocate = code.advocate
    with workspace_scope(tenant_a.workspace):
        assert release_held_rewards(workspace=tenant_a.workspace) == 0
        advocate.refresh_from_db()
        assert advocate.points_balance == 0
        with time_machine.travel(timezone.now() + timedelta(days=29)):
            assert release_held_rewards(workspace=tenant_a.workspace) == 0
        with time_machine.travel(timezone.now() + timedelta(days=30, minutes=1)):
            assert release_held_rewards(workspace=tenant_a.workspace) == 1
            assert release_held_rewards(workspace=tenant_a.workspace) == 0
    advocate.refresh_from_db()
    assert advocate.points_balance == 250
    entry = LedgerEntry.objects.with_scopes_disabled().get(advocate=advocate)
    assert (entry.kind, entry.amount) == ("earn_referral", 250)


@pytest.mark.parametrize(("age", "attributed"), [
    (timedelta(days=0), True),
    (timedelta(days=89, hours=23), True),
    (timedelta(days=90), True),             # day 90 counted
    (timedelta(days=90, hours=23, minutes=59), True),
    (timedelta(days=91), False),            # day 91 not
    (timedelta(days=120), False),
])
def test_the_attribution_window_is_90_days_by_default_day_90_counted_day_91_not(tenant_a, age, attributed):
    code = make_code(tenant_a.workspace)
    touch = timezone.now() - age
    referral = lead(code, EMAIL, at=touch)
    conversion = convert(tenant_a.workspace)
    assert conversion.attributed is attributed
    assert conversion.referral_id == (referral.pk if attributed else None)
    referral.refresh_from_db()
    assert referral.state == ("converted" if attributed else "lead")


def test_the_programs_window_overrides_the_workspaces(tenant_a):
    tenant_a.workspace.attribution_window_days = 365
    tenant_a.workspace.save()
    code = make_code(tenant_a.workspace)
    configure(code.program, attribution_window_days=7)
    lead(code, EMAIL, at=timezone.now() - timedelta(days=8))
    assert not convert(tenant_a.workspace).attributed


def test_the_workspaces_window_applies_without_a_program_window(tenant_a):
    tenant_a.workspace.attribution_window_days = 10
    tenant_a.workspace.save()
    code = make_code(tenant_a.workspace)
    lead(code, EMAIL, at=timezone.now() - timedelta(days=11))
    assert not convert(tenant_a.workspace).attributed


def test_first_touch_wins(tenant_a):
    early = make_code(tenant_a.workspace)
    late = make_code(tenant_a.workspace)
    configure(early.program, referee_reward="none")
    first = lead(early, EMAIL, at=timezone.now() - timedelta(days=20))
    # A later referral through another program's code (a duplicate, rejected) never wins.
    second = lead(late, EMAIL, at=timezone.now() - timedelta(days=2))
    conversion = convert(tenant_a.workspace)
    assert conversion.referral_id == first.pk
    second.refresh_from_db()
    assert second.state == "rejected"
    assert [h.advocate_id for h in held(tenant_a.workspace)] == [early.advocate_id]


def test_first_touch_within_the_window_wins_over_one_outside(tenant_a):
    old = make_code(tenant_a.workspace)
    new = make_code(tenant_a.workspace)
    configure(old.program, attribution_window_days=5)
    expired = lead(old, EMAIL, at=timezone.now() - timedelta(days=30))
    with workspace_scope(tenant_a.workspace):
        reject_referral(referral=expired, actor=tenant_a.manager, reason="Went cold")
    fresh = lead(new, EMAIL, at=timezone.now() - timedelta(days=3))
    assert convert(tenant_a.workspace).referral_id == fresh.pk


def test_a_conversion_without_a_referral_is_unattributed_and_rewards_nobody(tenant_a):
    conversion = convert(tenant_a.workspace, email="stranger@prospect.example")
    assert conversion.created and not conversion.attributed and conversion.referral_id is None
    assert held(tenant_a.workspace) == []


def test_a_conversion_before_the_first_touch_is_unattributed(tenant_a):
    lead(make_code(tenant_a.workspace), EMAIL)
    conversion = convert(tenant_a.workspace, occurred_at=timezone.now() - timedelta(days=1))
    assert not conversion.attributed


def test_a_second_conversion_of_a_converted_referee_is_unattributed(tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="none")
    lead(code, EMAIL)
    assert convert(tenant_a.workspace, external_id="deal-1").attributed
    assert not convert(tenant_a.workspace, external_id="deal-2").attributed
    assert len(held(tenant_a.workspace)) == 1 and fact(code.advocate) == 1


def test_a_qualified_referral_converts(tenant_a):
    code = make_code(tenant_a.workspace)
    referral = lead(code, EMAIL)
    with workspace_scope(tenant_a.workspace):
        qualify_referral(referral=referral, actor=tenant_a.manager)
    assert convert(tenant_a.workspace).referral_id == referral.pk


@pytest.mark.parametrize(("field", "kwargs"), [
    ("value", {"value": "-1"}), ("value", {"value": "abc"}), ("value", {"value": "NaN"}), ("value", {"value": "1.234"}),
    ("value", {"value": "1e20"}), ("currency", {"currency": "EURO"}), ("currency", {"currency": "E1R"}), ("currency", {"currency": ""}),
    ("referee_email", {"email": "nope"}), ("external_id", {"external_id": ""}), ("external_id", {"external_id": "x" * 201}),
    ("external_id", {"external_id": "a\x00b"}), ("occurred_at", {"occurred_at": timezone.now() + timedelta(days=2)}),
])
def test_bad_conversions_are_refused(tenant_a, field, kwargs):
    with pytest.raises(ValidationFailed) as caught:
        convert(tenant_a.workspace, **kwargs)
    assert field in caught.value.fields
    assert not Conversion.objects.with_scopes_disabled().exists()


# --- The referee's side -----------------------------------------------------------------------


def test_the_referee_gets_one_coupon_from_the_pool_once(tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="coupon")
    add_pool(code.program, "WELCOME-1", "WELCOME-2")
    referral = lead(code, EMAIL)
    convert(tenant_a.workspace)
    convert(tenant_a.workspace)  # a repeat
    coupons = list(Coupon.objects.with_scopes_disabled().filter(referral__isnull=False))
    assert [(c.code, c.referral_id) for c in coupons] == [("WELCOME-1", referral.pk)]
    assert coupons[0].assigned_at is not None
    referral.refresh_from_db()
    assert referral.flags == []


def test_an_empty_pool_flags_the_referral_and_opens_one_task_then_a_refill_and_clear_gives_the_coupon(tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="coupon", referrer_points=100)
    referral = lead(code, EMAIL)
    convert(tenant_a.workspace)
    referral.refresh_from_db()
    assert referral.state == "converted"
    assert [f["rule"] for f in referral.flags] == ["coupon_pool_empty"]
    assert "coupon pool" in referral.flags[0]["reason"]
    task = Task.objects.with_scopes_disabled().get(workspace=tenant_a.workspace)
    assert (task.kind, task.status) == ("follow_up", "open") and "empty" in task.title
    # The referrer's side was not held back by the referee's pool.
    assert [h.idempotency_key for h in held(tenant_a.workspace)] == [f"referral:{referral.pk}:referrer"]
    add_pool(code.program, "LATE-1")
    with workspace_scope(tenant_a.workspace):
        clear_flags(referral=referral, actor=tenant_a.manager, note="Pool refilled")
    assert Coupon.objects.with_scopes_disabled().get(code="LATE-1").referral_id == referral.pk
    assert len(held(tenant_a.workspace)) == 1 and fact(code.advocate) == 1


def test_a_referee_who_is_an_advocate_gets_held_points(tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="points", referee_points=50, referrer_points=200, hold_days=14)
    referee = AdvocateFactory(workspace=tenant_a.workspace, email=EMAIL)
    referral = lead(code, EMAIL)
    assert [f["rule"] for f in referral.flags] == ["existing_advocate"]
    with workspace_scope(tenant_a.workspace):
        clear_flags(referral=referral, actor=tenant_a.manager)
    convert(tenant_a.workspace)
    rows = held(tenant_a.workspace)
    assert [(h.idempotency_key, h.advocate_id, h.amount) for h in rows] == [
        (f"referral:{referral.pk}:referee", referee.pk, 50), (f"referral:{referral.pk}:referrer", code.advocate_id, 200),
    ]


def test_referee_points_for_someone_who_is_not_an_advocate_give_nothing(tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="points", referee_points=50)
    referral = lead(code, EMAIL)
    convert(tenant_a.workspace)
    assert [h.idempotency_key for h in held(tenant_a.workspace)] == [f"referral:{referral.pk}:referrer"]


# --- Flagged referrals -------------------------------------------------------------------------


def test_a_flagged_referral_converts_but_is_not_rewarded_until_a_manager_clears_it_then_exactly_once(tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="coupon", referrer_points=100)
    add_pool(code.program, "C-1", "C-2")
    self_email = code.advocate.email.replace("@", "+me@")
    referral = lead(code, self_email)
    assert referral.flags
    conversion = convert(tenant_a.workspace, email=self_email)
    assert conversion.attributed
    referral.refresh_from_db()
    assert referral.state == "converted" and referral.rewarded_at is None
    assert held(tenant_a.workspace) == [] and fact(code.advocate) == 0
    assert not Coupon.objects.with_scopes_disabled().filter(referral__isnull=False).exists()
    with workspace_scope(tenant_a.workspace):
        clear_flags(referral=referral, actor=tenant_a.manager, note="Checked: a colleague")
        with pytest.raises(Conflict):
            clear_flags(referral=referral, actor=tenant_a.manager)
    referral.refresh_from_db()
    assert referral.flags == [] and referral.rewarded_at
    assert len(held(tenant_a.workspace)) == 1 and fact(code.advocate) == 1
    assert Coupon.objects.with_scopes_disabled().filter(referral=referral).count() == 1
    log = AuditLog.objects.with_scopes_disabled().get(action="referral.flags_cleared")
    assert log.data["flags"][0]["rule"] == "self_referral" and "colleague" in log.message


def test_clearing_the_flags_of_a_flagged_lead_lets_its_conversion_reward(tenant_a):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="none")
    referral = lead(code, code.advocate.email)
    with workspace_scope(tenant_a.workspace):
        clear_flags(referral=referral, actor=tenant_a.manager)
    convert(tenant_a.workspace, email=code.advocate.email)
    assert len(held(tenant_a.workspace)) == 1


def test_the_flags_of_a_rejected_duplicate_cannot_be_cleared(tenant_a):
    lead(make_code(tenant_a.workspace), EMAIL)
    duplicate = lead(make_code(tenant_a.workspace), EMAIL)
    with workspace_scope(tenant_a.workspace), pytest.raises(InvalidTransition):
        clear_flags(referral=duplicate, actor=tenant_a.manager)


def test_a_converted_referral_cannot_be_rejected(tenant_a):
    referral = lead(make_code(tenant_a.workspace), EMAIL)
    convert(tenant_a.workspace)
    with workspace_scope(tenant_a.workspace), pytest.raises(InvalidTransition):
        reject_referral(referral=referral, actor=tenant_a.manager, reason="Too late")
