"""Rules of asks that every front door shares (programs.services)."""

from __future__ import annotations

import pytest

from advocacy.errors import Conflict
from advocacy.scoping import workspace_scope
from programs.models import Effort
from programs.services import create_ask, update_ask
from tests.factories import AskFactory, AssignmentFactory, ProgramFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ws(tenant_a):
    with workspace_scope(tenant_a.workspace):
        yield tenant_a


@pytest.mark.parametrize("effort, points", [(Effort.SMALL, 50), (Effort.MEDIUM, 150), (Effort.LARGE, 300)])
def test_an_ask_created_without_points_gets_the_default_of_its_effort(ws, effort, points):
    program = ProgramFactory(workspace=ws.workspace)
    ask = create_ask(workspace=ws.workspace, actor=ws.manager, data={"program": program, "kind": "review", "title": "T", "effort": effort})
    assert ask.points == points


def test_points_given_with_the_ask_are_kept(ws):
    program = ProgramFactory(workspace=ws.workspace)
    ask = create_ask(workspace=ws.workspace, actor=ws.manager,
                     data={"program": program, "kind": "review", "title": "T", "effort": Effort.LARGE, "points": 450})
    assert ask.points == 450


def test_an_ask_never_offered_may_move_to_another_program(ws):
    ask = AskFactory(program=ProgramFactory(workspace=ws.workspace))
    other = ProgramFactory(workspace=ws.workspace)
    assert update_ask(ask=ask, actor=ws.manager, data={"program": other}).program_id == other.pk


def test_an_ask_already_offered_stays_in_its_program(ws):
    ask = AskFactory(program=ProgramFactory(workspace=ws.workspace))
    AssignmentFactory(ask=ask)
    other = ProgramFactory(workspace=ws.workspace)
    with pytest.raises(Conflict, match="stays in its program"):
        update_ask(ask=ask, actor=ws.manager, data={"program": other})
    ask.refresh_from_db()
    assert ask.program_id != other.pk
