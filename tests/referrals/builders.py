"""Builders for the referral rules' tests (services, fraud, conversions, API, leads)."""

from __future__ import annotations

import itertools

from advocacy.scoping import workspace_scope
from referrals.models import Coupon, ReferralCode, ReferralSettings
from referrals.services import create_referral, settings_for
from tests.factories import AdvocateFactory, ProgramFactory

_codes = itertools.count(1)


def make_code(workspace, *, advocate=None, program=None, **program_fields) -> ReferralCode:
    """A referral code of ``advocate`` (a new active one by default) for ``program``."""
    advocate = advocate or AdvocateFactory(workspace=workspace)
    program = program or ProgramFactory(workspace=workspace, landing_url="https://landing.example/try", **program_fields)
    return ReferralCode.objects.with_scopes_disabled().create(
        workspace=workspace, program=program, advocate=advocate, code=f"TST{next(_codes):07d}",
    )


def configure(program, **fields) -> ReferralSettings:
    with workspace_scope(program.workspace_id):
        settings = settings_for(program)
        for name, value in fields.items():
            setattr(settings, name, value)
        settings.save()
        return settings


def add_pool(program, *codes: str) -> None:
    Coupon.objects.with_scopes_disabled().bulk_create(
        [Coupon(workspace_id=program.workspace_id, program=program, code=c) for c in codes],
    )


def lead(code, email="friend@prospect.example", **kwargs):
    with workspace_scope(code.workspace_id):
        return create_referral(code=code, referee_email=email, **kwargs)
