"""/r/ caches each code's target; a change to its advocate's stage or its program's status
or landing URL is seen at once (the core and programs send signals; referrals forgets)."""

from __future__ import annotations

import pytest

from advocacy.models import Stage
from advocacy.scoping import workspace_scope
from advocacy.services.advocates import change_stage
from programs.models import ProgramStatus
from programs.services import update_program
from referrals.codes import code_for
from referrals.redirect import resolve_code
from tests.factories import AdvocateFactory, ProgramFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def code(tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace, landing_url="https://landing.example/try")
    advocate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.ACTIVE)
    with workspace_scope(tenant_a.workspace):
        return code_for(advocate=advocate, program=program)


def test_an_advocate_who_leaves_is_no_longer_attributed_at_once(code, tenant_a, django_capture_on_commit_callbacks):
    assert resolve_code(code.code).attributed
    with workspace_scope(tenant_a.workspace), django_capture_on_commit_callbacks(execute=True):
        change_stage(advocate=code.advocate, stage=Stage.OPTED_OUT, actor=tenant_a.manager)
    assert not resolve_code(code.code).attributed


def test_a_paused_program_is_no_longer_attributed_at_once(code, tenant_a, django_capture_on_commit_callbacks):
    assert resolve_code(code.code).attributed
    with workspace_scope(tenant_a.workspace), django_capture_on_commit_callbacks(execute=True):
        update_program(program=code.program, actor=tenant_a.manager, data={"status": ProgramStatus.PAUSED})
    assert not resolve_code(code.code).attributed


def test_a_new_landing_url_is_followed_at_once(code, tenant_a, django_capture_on_commit_callbacks):
    assert resolve_code(code.code).location.startswith("https://landing.example/try")
    with workspace_scope(tenant_a.workspace), django_capture_on_commit_callbacks(execute=True):
        update_program(program=code.program, actor=tenant_a.manager, data={"landing_url": "https://new.example/join"})
    assert resolve_code(code.code).location.startswith("https://new.example/join")
