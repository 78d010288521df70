"""Referral codes (referrals/codes.py): one per advocate per program, at least 8
characters of the unambiguous alphabet, unique across workspaces, a collision retried;
the public link; and a program's referral settings changed with an audit row."""

from __future__ import annotations

import pytest
from django.test import override_settings

from advocacy.errors import ValidationFailed
from advocacy.models import AuditLog, Stage
from advocacy.scoping import workspace_scope
from programs.models import ProgramStatus
from referrals import codes
from referrals.codes import (
    code_for,
    codes_for,
    share_url,
    shareable_programs,
    update_referral_settings,
)
from referrals.models import CODE_ALPHABET, ReferralCode, ReferralSettings
from tests.factories import AdvocateFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def _program(tenant, **fields):
    return ProgramFactory(workspace=tenant.workspace, landing_url="https://landing.example/try", **fields)


def test_code_for_is_one_per_advocate_per_program(tenant_a):
    program, other = _program(tenant_a), _program(tenant_a)
    with workspace_scope(tenant_a.workspace):
        first = code_for(advocate=tenant_a.advocate, program=program)
        again = code_for(advocate=tenant_a.advocate, program=program)
        elsewhere = code_for(advocate=tenant_a.advocate, program=other)
        colleague = code_for(advocate=AdvocateFactory(workspace=tenant_a.workspace), program=program)

    assert again.pk == first.pk
    assert len({first.code, elsewhere.code, colleague.code}) == 3
    assert ReferralCode.objects.with_scopes_disabled().filter(advocate=tenant_a.advocate, program=program).count() == 1


def test_codes_are_at_least_8_characters_of_the_unambiguous_alphabet(tenant_a):
    program = _program(tenant_a)
    with workspace_scope(tenant_a.workspace):
        made = [code_for(advocate=AdvocateFactory(workspace=tenant_a.workspace), program=program).code for _ in range(30)]

    for code in made:
        assert len(code) >= 8
        assert set(code) <= set(CODE_ALPHABET)
    assert not set(CODE_ALPHABET) & set("01ILOAEIU")  # no look-alikes, no vowels
    assert len(set(made)) == 30


def test_codes_are_unique_across_workspaces(tenant_a, tenant_b):
    a_program, b_program = _program(tenant_a), _program(tenant_b)
    with workspace_scope(tenant_a.workspace):
        a = code_for(advocate=tenant_a.advocate, program=a_program)
    with workspace_scope(tenant_b.workspace):
        b = code_for(advocate=tenant_b.advocate, program=b_program)

    assert a.code != b.code
    assert ReferralCode._meta.get_field("code").unique  # the database decides, not a per-workspace check


def test_a_collision_with_another_workspaces_code_is_retried_with_a_fresh_code(tenant_a, tenant_b, monkeypatch):
    with workspace_scope(tenant_b.workspace):
        taken = code_for(advocate=tenant_b.advocate, program=_program(tenant_b)).code
    drawn = iter([taken, taken, "BCDFGHJKMN"])
    monkeypatch.setattr(codes, "new_code", lambda: next(drawn))

    with workspace_scope(tenant_a.workspace):
        made = code_for(advocate=tenant_a.advocate, program=_program(tenant_a))

    assert made.code == "BCDFGHJKMN"
    assert ReferralCode.objects.with_scopes_disabled().filter(code=taken).count() == 1


def test_a_generator_that_only_collides_gives_up_instead_of_looping(tenant_a, monkeypatch):
    program = _program(tenant_a)
    with workspace_scope(tenant_a.workspace):
        taken = code_for(advocate=AdvocateFactory(workspace=tenant_a.workspace), program=program).code
        monkeypatch.setattr(codes, "new_code", lambda: taken)
        with pytest.raises(codes.CodeSpaceExhausted):
            code_for(advocate=tenant_a.advocate, program=program)


def test_code_for_refuses_a_program_of_another_workspace(tenant_a, tenant_b):
    with workspace_scope(tenant_a.workspace), pytest.raises(ValidationFailed):
        code_for(advocate=tenant_a.advocate, program=_program(tenant_b))


@override_settings(SITE_URL="https://adv.example/")
def test_share_url_is_the_site_url_and_r_code(tenant_a):
    with workspace_scope(tenant_a.workspace):
        code = code_for(advocate=tenant_a.advocate, program=_program(tenant_a))

    assert share_url(code) == f"https://adv.example/r/{code.code}"


def test_shareable_programs_are_active_ones_with_a_landing_url(tenant_a):
    live = _program(tenant_a, name="Live")
    _program(tenant_a, name="Paused", status=ProgramStatus.PAUSED)
    ProgramFactory(workspace=tenant_a.workspace, name="No landing page")
    with workspace_scope(tenant_a.workspace):
        assert list(shareable_programs(tenant_a.advocate)) == [live]
        tenant_a.advocate.stage = Stage.ALUMNI
        assert list(shareable_programs(tenant_a.advocate)) == []


def test_codes_for_creates_only_the_missing_codes(tenant_a):
    one, two = _program(tenant_a, name="One"), _program(tenant_a, name="Two")
    with workspace_scope(tenant_a.workspace):
        existing = code_for(advocate=tenant_a.advocate, program=one)
        pairs = codes_for(tenant_a.advocate, [one, two])

    assert [p for p, _ in pairs] == [one, two]
    assert pairs[0][1].pk == existing.pk
    assert ReferralCode.objects.with_scopes_disabled().filter(advocate=tenant_a.advocate).count() == 2


def test_update_referral_settings_creates_them_and_writes_one_audit_row(tenant_a):
    program = _program(tenant_a)
    with workspace_scope(tenant_a.workspace):
        saved = update_referral_settings(program=program, actor=tenant_a.manager,
                                         changes={"referrer_points": 700, "hold_days": 14, "attribution_window_days": 365})
        update_referral_settings(program=program, actor=tenant_a.manager, changes={"referrer_points": 700})  # no change

        assert (saved.referrer_points, saved.hold_days, saved.attribution_window_days) == (700, 14, 365)
        rows = list(AuditLog.objects.filter(workspace=tenant_a.workspace, action="referrals.settings"))
    assert len(rows) == 1
    assert rows[0].data["changes"]["referrer_points"] == [500, 700]


@pytest.mark.parametrize("changes", [{"attribution_window_days": 0}, {"attribution_window_days": 366}, {"hold_days": 366},
                                     {"referee_reward": "cash"}, {"workspace_id": 2}])
def test_update_referral_settings_refuses_values_out_of_range(tenant_a, changes):
    program = _program(tenant_a)
    with workspace_scope(tenant_a.workspace):
        with pytest.raises(ValidationFailed):
            update_referral_settings(program=program, actor=tenant_a.manager, changes=changes)
        assert not ReferralSettings.objects.filter(program=program, hold_days=366).exists()


def test_a_new_attribution_window_reaches_the_cached_redirect_at_once(tenant_a, django_capture_on_commit_callbacks):
    from referrals.redirect import resolve_code

    program = _program(tenant_a)
    with workspace_scope(tenant_a.workspace):
        code = code_for(advocate=tenant_a.advocate, program=program)
    assert resolve_code(code.code).window_days == 90  # now cached

    with workspace_scope(tenant_a.workspace), django_capture_on_commit_callbacks(execute=True):
        update_referral_settings(program=program, actor=tenant_a.manager, changes={"attribution_window_days": 7})

    assert resolve_code(code.code).window_days == 7
