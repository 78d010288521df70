"""Races and refusals found in review of the journey's services, pinned with real threads
on Postgres: an instant approval that fills an ask, two offers to one person at once, and
the checks a manual offer shares with rotation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from advocacy.errors import Conflict, ValidationFailed
from advocacy.models import Advocate
from advocacy.scoping import scopes_disabled, workspace_scope
from programs import services as svc
from programs.models import Ask, AskStatus, Assignment, AssignmentState, ProgramStatus
from tests.concurrency import errors_of, race
from tests.factories import AdvocateFactory, AskFactory, AssignmentFactory, ProgramFactory

S = AssignmentState


@pytest.mark.django_db(transaction=True)
def test_two_instant_approvals_filling_an_ask_at_once_do_not_deadlock(tenant_a):
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace), capacity=1, needs_approval=False, points=50)
    people = [AdvocateFactory(workspace=tenant_a.workspace) for _ in range(2)]
    work = [AssignmentFactory(ask=ask, advocate=p, state=S.ACCEPTED) for p in people]

    def submit(i):
        with workspace_scope(tenant_a.workspace):
            a = Assignment.objects.get(pk=work[i].pk)
            return svc.submit_proof(assignment=a, actor=people[i].email, url="https://example.com/proof")

    results = race(2, submit)
    assert not [e for e in errors_of(results) if "deadlock" in str(e).lower()]
    with scopes_disabled():
        states = sorted(Assignment.objects.filter(ask=ask).values_list("state", flat=True))
        assert states in (["approved", "approved"], ["approved", "withdrawn"])
        assert Ask.objects.get(pk=ask.pk).status == AskStatus.CLOSED


@pytest.mark.django_db(transaction=True)
def test_two_manual_offers_to_one_person_at_once_respect_the_spacing_between_offers(tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace)
    asks = [AskFactory(program=program) for _ in range(2)]
    person = AdvocateFactory(workspace=tenant_a.workspace)

    def offer(i):
        with workspace_scope(tenant_a.workspace):
            return svc.offer_ask(ask=Ask.objects.get(pk=asks[i].pk), advocate=Advocate.objects.get(pk=person.pk),
                                 actor=tenant_a.manager)

    results = race(2, offer)
    assert len([r for r in results if isinstance(r, Assignment)]) == 1
    [refused] = errors_of(results)
    assert isinstance(refused, Conflict) and refused.code == "held_spacing"
    with scopes_disabled():
        assert Assignment.objects.filter(advocate=person).count() == 1


@pytest.fixture
def ws(tenant_a):
    with workspace_scope(tenant_a.workspace):
        yield tenant_a


@pytest.mark.django_db
def test_a_manual_offer_of_an_ask_past_its_deadline_is_refused(ws):
    ask = AskFactory(program=ProgramFactory(workspace=ws.workspace))
    Ask.objects.filter(pk=ask.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    ask.refresh_from_db()
    with pytest.raises(Conflict, match="deadline has passed"):
        svc.offer_ask(ask=ask, advocate=ws.advocate, actor=ws.manager)


@pytest.mark.django_db
def test_a_manual_offer_in_a_paused_program_is_refused(ws):
    ask = AskFactory(program=ProgramFactory(workspace=ws.workspace, status=ProgramStatus.PAUSED))
    with pytest.raises(Conflict) as refused:
        svc.offer_ask(ask=ask, advocate=ws.advocate, actor=ws.manager)
    assert refused.value.code == "program_not_active"


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["tenure_min_days", "tenure_max_days"])
def test_a_tenure_window_beyond_a_century_is_refused(ws, field):
    program = ProgramFactory(workspace=ws.workspace)
    with pytest.raises(ValidationFailed) as refused:
        svc.create_ask(workspace=ws.workspace, actor=ws.manager, data={"program": program, "kind": "review", "title": "T",
                                                                       field: 1_000_000})
    assert field in refused.value.fields


@pytest.mark.django_db
@pytest.mark.parametrize("call", [
    lambda a, ws: svc.decline_assignment(assignment=a, actor=None, reason="no\x00thanks"),
    lambda a, ws: svc.withdraw_assignment(assignment=a, actor=None, reason="x\x00"),
])
def test_a_nul_character_in_a_reason_is_a_validation_error(ws, call):
    a = AssignmentFactory(ask=AskFactory(program=ProgramFactory(workspace=ws.workspace)), advocate=ws.advocate)
    with pytest.raises(ValidationFailed):
        call(a, ws)
    a.refresh_from_db()
    assert a.state == S.OFFERED
