"""Raced answers to one assignment, with real threads against Postgres: concurrent
approvals credit the points once and exactly one succeeds (the others are refused with
InvalidTransition, or 409 through the API); raced accept/decline, approve/reject leave
one final state. PRODUCT.md "Programs and asks": "Approval credits the ask's points exactly
once"; ARCHITECTURE.md habit 5."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from advocacy.errors import InvalidTransition
from advocacy.models import Advocate
from advocacy.scoping import scopes_disabled, workspace_scope
from programs import services as svc
from programs.models import Assignment, AssignmentState
from rewards.models import LedgerEntry
from tests.concurrency import errors_of, race
from tests.factories import AskFactory, AssignmentFactory, ProgramFactory

S = AssignmentState


def make(tenant, state, points=100, **ask_fields) -> Assignment:
    ask = AskFactory(program=ProgramFactory(workspace=tenant.workspace), points=points, **ask_fields)
    return AssignmentFactory(ask=ask, advocate=tenant.advocate, state=state)


def fresh(assignment) -> Assignment:
    with scopes_disabled():
        return Assignment.objects.get(pk=assignment.pk)


def credits(advocate) -> list[LedgerEntry]:
    with scopes_disabled():
        return list(LedgerEntry.objects.filter(advocate=advocate))


def balance(advocate) -> int:
    with scopes_disabled():
        return Advocate.objects.get(pk=advocate.pk).points_balance


def in_scope(tenant, fn):
    """Run a service in a thread of its own, inside the workspace's scope, on a row it loads itself."""

    def work(assignment_pk, **kwargs):
        with workspace_scope(tenant.workspace):
            return fn(assignment=Assignment.objects.get(pk=assignment_pk), actor=tenant.manager, **kwargs)

    return work


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("n", [2, 10])
def test_concurrent_approvals_credit_the_points_once_and_exactly_one_succeeds(tenant_a, n):
    assignment = make(tenant_a, S.SUBMITTED, points=120)
    approve = in_scope(tenant_a, svc.approve_assignment)

    results = race(n, lambda i: approve(assignment.pk))

    won = [r for r in results if isinstance(r, Assignment)]
    errors = errors_of(results)
    assert len(won) == 1
    assert len(errors) == n - 1 and all(isinstance(e, InvalidTransition) for e in errors), errors
    assert all(e.code == "invalid_transition" and "approved is final" in e.message for e in errors)
    [entry] = credits(tenant_a.advocate)
    assert (entry.amount, entry.idempotency_key) == (120, f"assignment:{assignment.pk}")
    assert balance(tenant_a.advocate) == 120
    assert fresh(assignment).state == S.APPROVED
    assert fresh(assignment).points_entry_id == entry.pk


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_api_approvals_answer_one_200_and_nine_409(tenant_a):
    assignment = make(tenant_a, S.SUBMITTED, points=75)

    def approve(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant_a.api_secret}")
        response = client.post(f"/api/v1/assignments/{assignment.pk}/approve/", data="{}", content_type="application/json")
        return response.status_code, json.loads(response.content)

    results = race(10, approve)

    assert errors_of(results) == []
    assert sorted(status for status, _ in results) == [200] + [409] * 9
    assert {body["error"]["code"] for status, body in results if status == 409} == {"invalid_transition"}
    assert [e.amount for e in credits(tenant_a.advocate)] == [75]
    assert balance(tenant_a.advocate) == 75


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_api_approvals_with_one_idempotency_key_all_answer_the_first(tenant_a):
    assignment = make(tenant_a, S.SUBMITTED, points=60)

    def approve(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant_a.api_secret}")
        response = client.post(f"/api/v1/assignments/{assignment.pk}/approve/", data="{}", content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY="approve-once")
        return response.status_code, json.loads(response.content)

    results = race(10, approve)

    assert errors_of(results) == []
    assert {status for status, _ in results} == {200}  # the first answer, replayed to the nine that waited for it
    assert len({json.dumps(body, sort_keys=True) for _, body in results}) == 1
    assert [e.amount for e in credits(tenant_a.advocate)] == [60]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("n", [2, 10])
def test_concurrent_accept_and_decline_of_one_offer_leave_one_final_answer(tenant_a, n):
    assignment = make(tenant_a, S.OFFERED)
    accept = in_scope(tenant_a, svc.accept_assignment)
    decline = in_scope(tenant_a, svc.decline_assignment)

    results = race(n, lambda i: accept(assignment.pk) if i % 2 == 0 else decline(assignment.pk, reason=f"busy {i}"))

    won = [r for r in results if isinstance(r, Assignment)]
    assert len(won) == 1
    assert all(isinstance(e, InvalidTransition) for e in errors_of(results)) and len(errors_of(results)) == n - 1
    final = fresh(assignment)
    assert final.state == won[0].state
    assert final.state in (S.ACCEPTED, S.DECLINED)
    if final.state == S.ACCEPTED:
        assert (final.accepted_at, final.decided_at, final.reason) == (won[0].accepted_at, None, "")
    else:
        assert final.accepted_at is None and final.reason.startswith("busy ")


@pytest.mark.django_db(transaction=True)
def test_a_raced_approval_and_rejection_credit_points_only_if_approval_won(tenant_a):
    assignment = make(tenant_a, S.SUBMITTED, points=90)
    approve = in_scope(tenant_a, svc.approve_assignment)
    reject = in_scope(tenant_a, svc.reject_assignment)

    results = race(10, lambda i: approve(assignment.pk) if i % 2 == 0 else reject(assignment.pk, reason="Blurry"))

    assert sum(isinstance(r, Assignment) for r in results) == 1
    assert all(isinstance(e, InvalidTransition) for e in errors_of(results))
    final = fresh(assignment)
    assert [e.amount for e in credits(tenant_a.advocate)] == ([90] if final.state == S.APPROVED else [])
    assert balance(tenant_a.advocate) == (90 if final.state == S.APPROVED else 0)


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_of_the_last_places_close_the_ask_once_filled(tenant_a):
    """Two places, five submitted proofs approved at once: every approval credits its own
    points once, and the ask closes when the approved count reaches capacity."""
    from tests.factories import AdvocateFactory

    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace), points=10, capacity=2)
    people = [AdvocateFactory(workspace=tenant_a.workspace) for _ in range(5)]
    submitted = [AssignmentFactory(ask=ask, advocate=p, state=S.SUBMITTED) for p in people]
    waiting = AssignmentFactory(ask=ask, state=S.OFFERED)
    approve = in_scope(tenant_a, svc.approve_assignment)

    results = race(5, lambda i: approve(submitted[i].pk))

    assert errors_of(results) == []
    with scopes_disabled():
        ask.refresh_from_db()
        assert ask.status == "closed"
        assert LedgerEntry.objects.filter(advocate__in=people).count() == 5
    assert fresh(waiting).state == S.WITHDRAWN
