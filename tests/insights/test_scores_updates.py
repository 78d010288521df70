"""Scores follow the events that change them (insights/signals.py): an NPS answer, an
approved assignment, a conversion and a batch of activity events each recompute the
people concerned after commit, in one task; nothing runs before the commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from advocacy.models import Advocate
from advocacy.scoping import workspace_scope
from advocacy.services.events import record_events
from nps.services import record_api_response
from programs.models import AssignmentState
from programs.services import approve_assignment
from referrals.services import record_conversion
from tests.factories import AdvocateFactory, AskFactory, AssignmentFactory
from tests.referrals.builders import configure, lead, make_code

pytestmark = pytest.mark.django_db


def stored(advocate) -> Advocate:
    return Advocate.objects.with_scopes_disabled().get(pk=advocate.pk)


@pytest.fixture
def recomputes(monkeypatch):
    """The people each score task was sent for."""
    from insights import tasks

    sent: list[list[int]] = []
    original = tasks.recompute_advocate_scores.apply_async

    def spy(*args, kwargs=None, **options):
        sent.append(kwargs["advocate_ids"])
        return original(*args, kwargs=kwargs, **options)

    monkeypatch.setattr(tasks.recompute_advocate_scores, "apply_async", spy)
    return sent


def test_an_nps_answer_recomputes_the_persons_score_after_commit(tenant_a, recomputes, django_capture_on_commit_callbacks):
    person = AdvocateFactory(workspace=tenant_a.workspace, stage="candidate")
    with workspace_scope(tenant_a.workspace), django_capture_on_commit_callbacks(execute=True):
        record_api_response(workspace=tenant_a.workspace, advocate=person, score=10)
        assert recomputes == []  # not before the commit
    assert recomputes == [[person.pk]]
    fresh = stored(person)
    assert fresh.score_breakdown["signals"]["nps"]["value"] == 1.0
    assert fresh.score == 25  # nps 20 + recency 5


def test_an_approval_recomputes_the_advocates_score(tenant_a, recomputes, django_capture_on_commit_callbacks):
    assignment = AssignmentFactory(ask=AskFactory(program__workspace=tenant_a.workspace, kind="review"),
                                   state=AssignmentState.SUBMITTED, accepted_at=timezone.now() - timedelta(days=1),
                                   submitted_at=timezone.now())
    with workspace_scope(tenant_a.workspace), django_capture_on_commit_callbacks(execute=True):
        approve_assignment(assignment=assignment, actor=tenant_a.manager)
    assert recomputes == [[assignment.advocate_id]]
    signals = stored(assignment.advocate).score_breakdown["signals"]
    assert signals["public_proof"]["value"] == 0.333 and signals["asks"]["why"] == "1 ask completed; accepted 1 of 1 offer"


def test_an_attributed_conversion_recomputes_the_referrers_score(tenant_a, recomputes, django_capture_on_commit_callbacks):
    code = make_code(tenant_a.workspace)
    configure(code.program, referee_reward="none")
    lead(code, "friend@prospect.example")
    with workspace_scope(tenant_a.workspace), django_capture_on_commit_callbacks(execute=True):
        record_conversion(workspace=tenant_a.workspace, external_id="deal-1", referee_email="friend@prospect.example",
                          value="100", currency="USD")
    assert recomputes == [[code.advocate_id]]
    assert stored(code.advocate).score_breakdown["signals"]["referrals"]["why"] == "1 referral converted"


def test_an_unattributed_conversion_recomputes_nobody(tenant_a, recomputes, django_capture_on_commit_callbacks):
    with workspace_scope(tenant_a.workspace), django_capture_on_commit_callbacks(execute=True):
        record_conversion(workspace=tenant_a.workspace, external_id="deal-2", referee_email="stranger@prospect.example",
                          value="100", currency="USD")
    assert recomputes == []


def test_a_batch_of_events_recomputes_its_people_in_one_task(tenant_a, recomputes, django_capture_on_commit_callbacks):
    people = [AdvocateFactory(workspace=tenant_a.workspace) for _ in range(3)]
    now = timezone.now().isoformat()
    batch = [{"advocate": p.email, "kind": "email_open", "occurred_at": now} for p in people for _ in range(2)]
    with workspace_scope(tenant_a.workspace), django_capture_on_commit_callbacks(execute=True):
        record_events(workspace=tenant_a.workspace, payload=batch)
    assert recomputes == [sorted(p.pk for p in people)]
    assert all(stored(p).score_breakdown["signals"]["engagement"]["value"] == 0.1 for p in people)
