"""Builders shared by the budget, fatigue, rotation and job tests: a workspace of our own
(so only the advocates a test makes are in it), people, asks, past offers at a given time,
and reads of what rotation did."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import time_machine
from django.db.models import Count

from advocacy.models import Advocate, ContactHold, Workspace
from advocacy.scoping import scopes_disabled, workspace_scope
from programs.models import Ask, AskKind, AskStatus, Assignment, AssignmentState, Effort
from programs.rotation import RotationResult, rotate_asks
from programs.services import create_offers
from tests.factories import AdvocateFactory, AskFactory, ProgramFactory, WorkspaceFactory

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning
PERMISSIVE = {"min_days_between_offers": 0, "max_contacts_per_30_days": 30}


def at(when: datetime):
    return time_machine.travel(when, tick=False)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def make_workspace(**policy) -> Workspace:
    return WorkspaceFactory(**policy)


def people(workspace: Workspace, n: int, **fields) -> list[Advocate]:
    return [AdvocateFactory(workspace=workspace, **fields) for _ in range(n)]


def make_ask(workspace: Workspace, program=None, tags=None, **fields) -> Ask:
    program = program or ProgramFactory(workspace=workspace)
    ask = AskFactory(program=program, **fields)
    if tags:
        from programs.services import _set_audience_tags

        with workspace_scope(workspace):
            _set_audience_tags(ask, tags)
    return ask


def asks(workspace: Workspace, n: int, **fields) -> list[Ask]:
    program = ProgramFactory(workspace=workspace)
    return [make_ask(workspace, program=program, **fields) for _ in range(n)]


def rotate(workspace: Workspace, when: datetime | None = None) -> RotationResult:
    with workspace_scope(workspace):
        return rotate_asks(workspace=workspace, now=when)


def past_offer(advocate: Advocate, when: datetime, *, state: str = AssignmentState.OFFERED, kind: str = AskKind.REVIEW,
               effort: str = Effort.SMALL, decided_at: datetime | None = None) -> Assignment:
    """An offer of a new ask made at ``when`` through create_offers (so it counts as a
    contact and moves last_asked_at), then put in ``state``. The ask is closed, so
    rotation does not serve it."""
    workspace = advocate.workspace
    ask = make_ask(workspace, kind=kind, effort=effort)
    with workspace_scope(workspace), at(when):
        [assignment] = create_offers(ask=ask, advocate_ids=[advocate.pk], now=when)
        Ask.objects.filter(pk=ask.pk).update(status=AskStatus.CLOSED)
        if state != AssignmentState.OFFERED:
            Assignment.objects.filter(pk=assignment.pk).update(state=state, decided_at=decided_at or when)
    return assignment


def reload(advocate: Advocate) -> Advocate:
    with scopes_disabled():
        return Advocate.objects.get(pk=advocate.pk)


def offered(ask: Ask) -> set[int]:
    with scopes_disabled():
        return set(Assignment.objects.filter(ask=ask).values_list("advocate_id", flat=True))


def offers_per_advocate(workspace: Workspace) -> Counter:
    with scopes_disabled():
        rows = Assignment.objects.filter(workspace=workspace).values("advocate_id").annotate(n=Count("pk"))
        return Counter({r["advocate_id"]: r["n"] for r in rows})


def hold(ask: Ask, advocate: Advocate) -> ContactHold | None:
    with scopes_disabled():
        return ContactHold.objects.filter(subject_type="ask", subject_id=ask.pk, advocate=advocate).first()


def holds_of(ask: Ask) -> dict[int, str]:
    with scopes_disabled():
        return dict(ContactHold.objects.filter(subject_type="ask", subject_id=ask.pk).values_list("advocate_id", "reason"))
