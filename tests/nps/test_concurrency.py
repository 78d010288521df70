"""Races with real threads against Postgres: the same link answered at once by ten threads
with different scores keeps one response holding the latest score, with no duplicate task,
suppression or badge fact; two runs of the same round send it once; an integration's
answer posted twice at once is stored once."""

from __future__ import annotations

import threading

import pytest

from advocacy.models import AuditLog, Contact, Suppression, Task
from advocacy.scoping import scopes_disabled, workspace_scope
from nps import services as svc
from nps.models import Survey, SurveyResponse, SurveySend, SurveyStatus
from rewards.models import AdvocateFact
from tests.concurrency import errors_of, race
from tests.factories import AdvocateFactory, SurveyFactory, SurveySendFactory

pytestmark = pytest.mark.django_db(transaction=True)

SCORES = [0, 10, 3, 9, 6, 10, 1, 9, 2, 10]


def test_ten_concurrent_answers_to_one_link_keep_one_response_with_the_latest_score(tenant_a):
    send = SurveySendFactory(survey=SurveyFactory(workspace=tenant_a.workspace), advocate=tenant_a.advocate)

    def work(i):
        with workspace_scope(tenant_a.workspace):
            return svc.record_answer(send=SurveySend.objects.get(pk=send.pk), score=SCORES[i], channel="email",
                                     comment=f"thread {i}")

    results = race(len(SCORES), work)

    assert errors_of(results) == []
    latest = max(results, key=lambda r: r.updated_at)
    with scopes_disabled():
        [stored] = SurveyResponse.objects.all()
        assert (stored.score, stored.comment, stored.updated_at) == (latest.score, latest.comment, latest.updated_at)
        assert len({r.pk for r in results}) == 1
        # The loop runs after each commit for the category of that moment (nps/loop.py): the
        # final answer's always ran, and nothing ran twice.
        assert Task.objects.count() <= 1
        assert Suppression.objects.count() == Task.objects.count()
        fact = AdvocateFact.objects.filter(advocate=tenant_a.advocate, fact="promoter_answers").first()
        assert fact is None or fact.count == 1
        assert AuditLog.objects.filter(action="nps.promoter").count() == (1 if fact else 0)
        if stored.category == "detractor":
            assert Task.objects.filter(dedupe_key=f"nps-detractor:{stored.pk}").count() == 1
        elif stored.category == "promoter":
            assert fact is not None


def test_two_runs_of_the_same_round_at_once_send_it_once(tenant_a):
    AdvocateFactory.create_batch(5, workspace=tenant_a.workspace)
    survey = SurveyFactory(workspace=tenant_a.workspace, status=SurveyStatus.ACTIVE, schedule="recurring", every_days=30)
    with scopes_disabled():
        Survey.objects.filter(pk=survey.pk).update(next_run_at=survey.created_at)
        copies = [Survey.objects.get(pk=survey.pk) for _ in range(4)]

    def work(i):
        with workspace_scope(tenant_a.workspace):
            return svc.send_round(survey=copies[i])

    results = race(4, work)

    assert errors_of(results) == []
    assert sorted(r.sent for r in results) == [0, 0, 0, 6]
    with scopes_disabled():
        assert SurveySend.objects.count() == 6
        assert Contact.objects.count() == 6
        assert Survey.objects.get(pk=survey.pk).rounds == 1


def test_an_integrations_answer_posted_twice_at_once_is_stored_once(tenant_a):
    def work(i):
        with workspace_scope(tenant_a.workspace):
            return svc.record_api_response(workspace=tenant_a.workspace, advocate=tenant_a.advocate, score=2,
                                           external_id="crm-42")

    results = race(6, work)

    assert errors_of(results) == []
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    with scopes_disabled():
        assert SurveyResponse.objects.count() == 1
        assert Task.objects.count() == 1


def test_two_surveys_of_a_workspace_sent_at_once_with_different_clocks_survey_nobody_twice(tenant_a, monkeypatch):
    """The job read its clock a while ago; a manager's "Send now" of another survey runs at
    the same moment with a later clock. The rounds of a workspace run one at a time and the
    throttle counts sends stamped after a round's ``now``: nobody gets two surveys."""
    from collections import Counter
    from datetime import timedelta

    from django.utils import timezone

    AdvocateFactory.create_batch(20, workspace=tenant_a.workspace)
    first = SurveyFactory(workspace=tenant_a.workspace, name="A", channels=["email"], status=SurveyStatus.ACTIVE)
    second = SurveyFactory(workspace=tenant_a.workspace, name="B", channels=["email"], status=SurveyStatus.ACTIVE)
    job_now = timezone.now()
    with scopes_disabled():
        Survey.objects.filter(pk__in=[first.pk, second.pk]).update(next_run_at=job_now - timedelta(minutes=1))

    # The later clock's round goes first (it is inside its batch's transaction when the job's
    # round starts): the order in which an upper bound on the throttle missed its sends.
    later_in_batch = threading.Event()
    this_thread = threading.local()
    real_held_among = svc._held_among

    def held_among(rules, ids):
        if getattr(this_thread, "later", False):
            later_in_batch.set()
        return real_held_among(rules, ids)

    monkeypatch.setattr(svc, "_held_among", held_among)

    def work(i):
        with workspace_scope(tenant_a.workspace):
            survey = Survey.objects.get(pk=[first.pk, second.pk][i])
            if i == 0:
                assert later_in_batch.wait(timeout=30)
                return svc.send_round(survey=survey, now=job_now)
            this_thread.later = True
            return svc.send_round(survey=survey, now=job_now + timedelta(minutes=2))

    results = race(2, work)

    assert errors_of(results) == []
    with scopes_disabled():
        per_person = Counter(SurveySend.objects.values_list("advocate_id", flat=True))
        assert per_person and max(per_person.values()) == 1
        assert sum(r.sent for r in results) == len(per_person) == 21


def test_a_round_commits_in_batches_after_claiming_the_round(tenant_a, monkeypatch):
    """A large audience is never locked in one transaction: the round is claimed first, then
    each batch commits on its own (here batches of 2; the third fails)."""
    AdvocateFactory.create_batch(4, workspace=tenant_a.workspace)  # 5 people with tenant_a's advocate
    survey = SurveyFactory(workspace=tenant_a.workspace, status=SurveyStatus.ACTIVE, channels=["email"])
    monkeypatch.setattr(svc, "BATCH", 2)
    real = svc._send_batch
    calls = []

    def failing_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(svc, "_send_batch", failing_third)
    with workspace_scope(tenant_a.workspace), pytest.raises(RuntimeError):
        svc.send_round(survey=survey)
    with scopes_disabled():
        assert Survey.objects.get(pk=survey.pk).rounds == 1  # claimed before the batches
        assert SurveySend.objects.count() == 4 and Contact.objects.count() == 4  # two batches committed
