"""referrals.services: leads, the state table, settings and the coupon pool."""

from __future__ import annotations

from datetime import UTC

import pytest

from advocacy.errors import Conflict, InvalidTransition, ValidationFailed
from advocacy.models import AuditLog, Stage
from advocacy.scoping import workspace_scope
from programs.models import ProgramStatus
from referrals.models import Coupon, Referral, ReferralSettings, ReferralState
from referrals.services import (
    TRANSITIONS,
    ReferralsClosed,
    add_coupons,
    canonical_email,
    qualify_referral,
    reject_referral,
    settings_for,
    within_window,
)

from .builders import lead, make_code

pytestmark = pytest.mark.django_db


def test_settings_for_creates_the_defaults_once(tenant_a):
    code = make_code(tenant_a.workspace)
    with workspace_scope(tenant_a.workspace):
        first = settings_for(code.program)
        again = settings_for(code.program)
    assert first.pk == again.pk
    assert (first.referrer_points, first.referee_reward, first.hold_days, first.attribution_window_days) == (500, "coupon", 30, None)
    assert ReferralSettings.objects.with_scopes_disabled().count() == 1


def test_a_lead_is_created_through_the_code_with_its_advocate_and_program(tenant_a):
    code = make_code(tenant_a.workspace)
    referral = lead(code, " Friend@Prospect.Example ", referee_name=" Fran ", referee_company="Prospect Ltd")
    assert referral.created
    assert (referral.state, referral.flags, referral.advocate_id, referral.program_id) == ("lead", [], code.advocate_id, code.program_id)
    assert (referral.referee_email, referral.referee_name, referral.referee_company) == ("friend@prospect.example", "Fran", "Prospect Ltd")


def test_the_same_referee_through_the_same_code_again_returns_the_first_lead(tenant_a):
    code = make_code(tenant_a.workspace)
    first = lead(code)
    again = lead(code, "FRIEND@prospect.example")
    assert again.pk == first.pk and not again.created
    assert Referral.objects.with_scopes_disabled().count() == 1


@pytest.mark.parametrize(("field", "value"), [
    ("referee_email", "not-an-email"), ("referee_email", ""), ("referee_email", "a" * 250 + "@x.example"),
    ("referee_name", "x" * 201), ("referee_company", "y" * 201), ("referee_name", "nul\x00name"), ("referee_email", "a\x00@b.example"),
])
def test_bad_lead_input_is_refused(tenant_a, field, value):
    code = make_code(tenant_a.workspace)
    kwargs = {"referee_email": "friend@prospect.example"} | {field: value}
    with pytest.raises(ValidationFailed) as caught:
        lead(code, kwargs.pop("referee_email"), **kwargs)
    assert field in caught.value.fields
    assert not Referral.objects.with_scopes_disabled().exists()


@pytest.mark.parametrize("status", [ProgramStatus.PAUSED, ProgramStatus.ARCHIVED, ProgramStatus.DRAFT])
def test_a_program_that_is_not_active_takes_no_referrals(tenant_a, status):
    code = make_code(tenant_a.workspace, status=status)
    with pytest.raises(ReferralsClosed):
        lead(code)


@pytest.mark.parametrize("stage", [Stage.ALUMNI, Stage.OPTED_OUT, Stage.CANDIDATE, Stage.INVITED])
def test_a_departed_advocates_code_takes_no_referrals(tenant_a, stage):
    code = make_code(tenant_a.workspace)
    code.advocate.stage = stage
    code.advocate.save()
    with pytest.raises(ReferralsClosed):
        lead(code)


def test_the_transition_table_ends_in_converted_or_rejected():
    assert TRANSITIONS["lead"] == {"qualified", "converted", "rejected"}
    assert TRANSITIONS["qualified"] == {"converted", "rejected"}
    assert TRANSITIONS["converted"] == set() and TRANSITIONS["rejected"] == set()


def test_qualify_then_reject_with_a_reason_is_audited(tenant_a):
    referral = lead(make_code(tenant_a.workspace))
    with workspace_scope(tenant_a.workspace):
        referral = qualify_referral(referral=referral, actor=tenant_a.manager)
        assert referral.state == ReferralState.QUALIFIED and referral.qualified_at
        referral = reject_referral(referral=referral, actor=tenant_a.manager, reason="Not a real company")
        assert (referral.state, referral.reason) == ("rejected", "Not a real company")
        actions = list(AuditLog.objects.filter(workspace=tenant_a.workspace).values_list("action", flat=True))
    assert {"referral.qualified", "referral.rejected"} <= set(actions)


def test_illegal_transitions_are_refused(tenant_a):
    referral = lead(make_code(tenant_a.workspace))
    with workspace_scope(tenant_a.workspace):
        reject_referral(referral=referral, actor=tenant_a.manager, reason="Spam")
        with pytest.raises(InvalidTransition):
            qualify_referral(referral=referral, actor=tenant_a.manager)
        with pytest.raises(InvalidTransition):
            reject_referral(referral=referral, actor=tenant_a.manager, reason="Again")


def test_reject_needs_a_reason(tenant_a):
    referral = lead(make_code(tenant_a.workspace))
    with workspace_scope(tenant_a.workspace), pytest.raises(ValidationFailed):
        reject_referral(referral=referral, actor=tenant_a.manager, reason="  ")


def test_coupons_are_added_once_each(tenant_a):
    code = make_code(tenant_a.workspace)
    with workspace_scope(tenant_a.workspace):
        assert add_coupons(program=code.program, codes=["A1", "B2", "A1", " "], actor=tenant_a.manager) == 2
        assert add_coupons(program=code.program, codes=["B2", "C3"], actor=tenant_a.manager) == 1
        with pytest.raises(ValidationFailed):
            add_coupons(program=code.program, codes=[], actor=tenant_a.manager)
    assert Coupon.objects.with_scopes_disabled().count() == 3


def test_canonical_email_drops_case_and_plus_tag():
    assert canonical_email("Ann.Lee+promo@Example.COM") == "ann.lee@example.com"
    assert canonical_email("ann@example.com") == "ann@example.com"


def test_within_window_counts_whole_days():
    from datetime import datetime, timedelta

    touch = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert within_window(touch, touch, 90)
    assert within_window(touch, touch + timedelta(days=90, hours=23), 90)
    assert not within_window(touch, touch + timedelta(days=91), 90)
    assert not within_window(touch, touch - timedelta(seconds=1), 90)


def test_conflict_is_the_base_of_referrals_closed():
    assert issubclass(ReferralsClosed, Conflict)
