"""Stage changes run in their own transaction when called outside one (as the portal's
views call them, in autocommit): the row lock needs it. The suite's usual tests run inside
a transaction and cannot see this, hence transaction=True here."""

from __future__ import annotations

import pytest

from advocacy.models import Advocate, Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from advocacy.services.advocates import change_stage, leave_program, pause_self, resume_self


@pytest.mark.django_db(transaction=True)
def test_an_advocate_pauses_resumes_and_leaves_outside_any_transaction(tenant_a):
    with workspace_scope(tenant_a.workspace):
        pause_self(advocate=tenant_a.advocate)
        resume_self(advocate=tenant_a.advocate)
        change_stage(advocate=tenant_a.advocate, stage=Stage.PAUSED, actor=tenant_a.manager)
        leave_program(advocate=tenant_a.advocate)
    with scopes_disabled():
        assert Advocate.objects.get(pk=tenant_a.advocate.pk).stage == Stage.OPTED_OUT
