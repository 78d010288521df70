"""The fraud rules of PRODUCT.md "Referrals": each flags with a visible reason; nothing is
dropped silently."""

from __future__ import annotations

import pytest

from advocacy.scoping import workspace_scope
from referrals.models import Referral, ReferralState
from referrals.services import record_conversion
from tests.factories import AdvocateFactory

from .builders import lead, make_code

pytestmark = pytest.mark.django_db


def rules(referral) -> list[str]:
    return [f["rule"] for f in referral.flags]


def test_self_referral_with_a_plus_tag_and_other_case_is_flagged(tenant_a):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, email="ann.lee@customer.example")
    referral = lead(make_code(tenant_a.workspace, advocate=advocate), "Ann.Lee+deal@Customer.Example")
    assert referral.state == ReferralState.LEAD
    assert rules(referral) == ["self_referral"]
    assert "advocate's own" in referral.flags[0]["reason"]


def test_self_referral_with_the_exact_address_is_flagged(tenant_a):
    code = make_code(tenant_a.workspace)
    referral = lead(code, code.advocate.email)
    assert "self_referral" in rules(referral)


def test_a_plus_tag_of_someone_else_is_not_a_self_referral(tenant_a):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, email="ann@customer.example")
    referral = lead(make_code(tenant_a.workspace, advocate=advocate), "ann+x@other.example")
    assert referral.flags == []


def test_a_referee_already_referred_is_rejected_as_duplicate_and_the_first_wins(tenant_a):
    first_code = make_code(tenant_a.workspace, advocate=AdvocateFactory(workspace=tenant_a.workspace, name="Bea First"))
    second_code = make_code(tenant_a.workspace, program=first_code.program)
    first = lead(first_code, "friend@prospect.example")
    second = lead(second_code, "Friend@Prospect.example")
    first.refresh_from_db()
    assert (first.state, first.flags) == ("lead", [])
    assert second.pk != first.pk
    assert second.state == ReferralState.REJECTED
    assert second.reason.startswith("duplicate: already referred by Bea First")
    assert rules(second) == ["duplicate"]


def test_a_referee_referred_in_another_program_of_the_workspace_is_a_duplicate(tenant_a):
    first = lead(make_code(tenant_a.workspace), "friend@prospect.example")
    second = lead(make_code(tenant_a.workspace), "friend@prospect.example")
    assert second.state == "rejected" and first.state == "lead"


def test_a_referee_referred_in_another_workspace_is_not_a_duplicate(tenant_a, tenant_b):
    lead(make_code(tenant_b.workspace), "friend@prospect.example")
    referral = lead(make_code(tenant_a.workspace), "friend@prospect.example")
    assert (referral.state, referral.flags) == ("lead", [])


def test_a_rejected_referral_does_not_block_a_new_one(tenant_a):
    from referrals.services import reject_referral

    first = lead(make_code(tenant_a.workspace), "friend@prospect.example")
    with workspace_scope(tenant_a.workspace):
        reject_referral(referral=first, actor=tenant_a.manager, reason="Wrong person")
    again = lead(make_code(tenant_a.workspace), "friend@prospect.example")
    assert (again.state, again.flags) == ("lead", [])


def test_a_referee_who_is_already_an_advocate_is_flagged(tenant_a):
    AdvocateFactory(workspace=tenant_a.workspace, email="Known.Person@Prospect.example", stage="candidate")
    referral = lead(make_code(tenant_a.workspace), "known.person@prospect.example")
    assert referral.state == ReferralState.LEAD
    assert rules(referral) == ["existing_advocate"]
    assert "already a person of this workspace" in referral.flags[0]["reason"]


def test_an_advocate_of_another_workspace_is_not_flagged(tenant_a, tenant_b):
    AdvocateFactory(workspace=tenant_b.workspace, email="known@prospect.example")
    assert lead(make_code(tenant_a.workspace), "known@prospect.example").flags == []


def test_a_referee_already_a_customer_by_a_conversion_is_flagged(tenant_a):
    with workspace_scope(tenant_a.workspace):
        record_conversion(workspace=tenant_a.workspace, external_id="old-deal", referee_email="buyer@prospect.example",
                          value="10", currency="EUR")
    referral = lead(make_code(tenant_a.workspace), "buyer@prospect.example")
    assert rules(referral) == ["existing_customer"]


def test_flagged_referrals_are_all_kept(tenant_a):
    code = make_code(tenant_a.workspace)
    lead(code, code.advocate.email)
    lead(make_code(tenant_a.workspace), code.advocate.email)
    assert Referral.objects.with_scopes_disabled().count() == 2
