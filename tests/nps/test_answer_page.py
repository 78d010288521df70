"""The /s/<token> answer page: a GET records nothing (mail scanners fetch every link) and
shows the chosen score with a form that posts it (automatically for a person, a button
without JavaScript); the POST records it and asks the follow-up question; answering again
replaces the answer; a bad token is a friendly 404 page and a score outside 0..10 a 400
page, never a 500; HEAD does nothing; a forged token costs no query."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from advocacy.models import Task
from advocacy.scoping import scopes_disabled
from nps.models import SurveyResponse
from nps.tokens import make_token
from tests.factories import SurveyFactory, SurveySendFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_send(tenant_a):
    survey = SurveyFactory(workspace=tenant_a.workspace, name="Quarterly", follow_up_question="What is the main reason?")
    return SurveySendFactory(survey=survey, advocate=tenant_a.advocate)


def url_of(send, score=None) -> str:
    url = reverse("nps_answer", args=[make_token(send.pk)])
    return url if score is None else f"{url}?score={score}"


def responses() -> list[SurveyResponse]:
    with scopes_disabled():
        return list(SurveyResponse.objects.all())


def test_a_get_with_a_score_records_nothing_and_shows_a_form_that_posts_it(client, a_send, tenant_a):
    page = client.get(url_of(a_send, 9))
    assert page.status_code == 200
    body = page.content.decode()
    assert responses() == []
    assert 'id="nps-confirm"' in body and 'name="score" value="9"' in body
    assert "Confirm my score: 9" in body
    assert "form.submit()" in body  # the automatic POST for a person
    assert 'value="9" aria-pressed="true"' in body
    assert f"How likely are you to recommend {tenant_a.workspace.name}" in body
    assert "csrfmiddlewaretoken" in body
    assert page["Cache-Control"] == "no-store"


def test_the_post_records_the_score_then_the_page_asks_the_follow_up_question(client, a_send):
    posted = client.post(url_of(a_send), {"score": "9"})
    assert posted.status_code == 302 and posted["Location"] == url_of(a_send)
    [response] = responses()
    assert (response.score, response.channel) == (9, "email")
    page = client.get(posted["Location"])
    body = page.content.decode()
    assert "you answered 9" in body
    assert "What is the main reason?" in body and 'name="comment"' in body


def test_a_comment_is_saved_and_thanked_for(client, a_send, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the loop's task (after commit) opens the follow-up
        client.post(url_of(a_send), {"score": "3"})
    posted = client.post(url_of(a_send), {"comment": "Onboarding was rough."})
    assert posted.status_code == 302 and posted["Location"].endswith("?thanks=1")
    assert responses()[0].comment == "Onboarding was rough."
    assert "Thank you!" in client.get(posted["Location"]).content.decode()
    with scopes_disabled():
        assert "Onboarding was rough." in Task.objects.get().detail


def test_the_csrf_token_of_the_get_page_lets_the_post_through(a_send):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(url_of(a_send, 10))
    token = page.context["csrf_token"]
    assert browser.post(url_of(a_send), {"score": "10", "csrfmiddlewaretoken": str(token)}).status_code == 302
    assert responses()[0].score == 10
    assert Client(enforce_csrf_checks=True).post(url_of(a_send), {"score": "1"}).status_code == 403
    assert responses()[0].score == 10


def test_answering_again_with_the_same_link_replaces_the_answer(client, a_send):
    client.post(url_of(a_send), {"score": "4"})
    again = client.get(url_of(a_send, 10))
    assert "Before, you answered 4." in again.content.decode()
    client.post(url_of(a_send), {"score": "10"})
    [response] = responses()
    assert response.score == 10


def test_the_link_of_the_recorded_score_shows_the_answer_without_posting_again(client, a_send):
    client.post(url_of(a_send), {"score": "8"})
    body = client.get(url_of(a_send, 8)).content.decode()
    assert 'id="nps-confirm"' not in body
    assert "you answered 8" in body


def test_the_plain_link_shows_the_eleven_scores(client, a_send):
    body = client.get(url_of(a_send)).content.decode()
    for n in range(11):
        assert f'name="score" value="{n}"' in body
    assert responses() == []


@pytest.mark.parametrize("token", ["nope", "1.abc", "x" * 200, "٣.٣", make_token(10**9), "%00", "a.b.c"])
def test_a_bad_or_mangled_token_is_a_friendly_404_page(client, a_send, token):
    page = client.get(f"/s/{token}?score=5")
    assert page.status_code == 404
    assert "could not find this survey" in page.content.decode()
    assert client.post(f"/s/{token}", {"score": "5"}).status_code == 404
    assert responses() == []


def test_a_forged_token_costs_no_query(client, a_send, django_assert_num_queries):
    forged = make_token(a_send.pk)[:-3] + "xyz"
    with django_assert_num_queries(0):
        assert client.get(f"/s/{forged}?score=5").status_code == 404


def test_a_genuine_link_costs_one_query_to_show(client, a_send, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # the send with its survey, workspace, person and answer (+ session)
        assert client.get(url_of(a_send, 5)).status_code == 200


@pytest.mark.parametrize("score", ["11", "-1", "10.0", "٣", "\uff11", "99999999999999999999999", "", "a", "5\x00", " 5", "05"])
def test_a_score_outside_0_to_10_is_a_400_page_never_a_500(client, a_send, score):
    page = client.get(url_of(a_send), {"score": score})
    assert page.status_code == 400
    assert "whole number from 0 to 10" in page.content.decode()
    assert client.post(url_of(a_send), {"score": score}).status_code == 400
    assert responses() == []


def test_a_nul_in_the_comment_is_refused_with_a_message(client, a_send):
    client.post(url_of(a_send), {"score": "2"})
    page = client.post(url_of(a_send), {"comment": "bad\x00text"})
    assert page.status_code == 400
    assert "NUL" in page.content.decode()


def test_a_too_long_comment_is_refused_with_a_message(client, a_send):
    client.post(url_of(a_send), {"score": "2"})
    page = client.post(url_of(a_send), {"comment": "x" * 5001})
    assert page.status_code == 400
    assert "at most 5,000 characters" in page.content.decode()


def test_a_comment_before_any_score_is_refused(client, a_send):
    assert client.post(url_of(a_send), {"comment": "hi"}).status_code == 400
    assert client.post(url_of(a_send), {}).status_code == 400
    assert responses() == []


def test_head_does_nothing(client, a_send, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.head(url_of(a_send, 9)).status_code == 200
    assert responses() == []


def test_other_methods_are_not_allowed(client, a_send):
    assert client.put(url_of(a_send)).status_code == 405
    assert client.delete(url_of(a_send)).status_code == 405


def test_an_erased_persons_link_is_not_found(client, a_send):
    from django.utils import timezone

    with scopes_disabled():
        a_send.advocate.erased_at = timezone.now()
        a_send.advocate.save()
    assert client.get(url_of(a_send, 9)).status_code == 404
    assert client.post(url_of(a_send), {"score": "9"}).status_code == 404


# --- Link scanners that run scripts: the loop waits for the settle period ------------------------------


@pytest.fixture
def delayed_loops(monkeypatch):
    """The loop's tasks as queued (kwargs, countdown), not run: the test runs them when the
    settle period is over."""
    from nps import tasks

    queued = []
    monkeypatch.setattr(tasks.run_answer_loop, "apply_async",
                        lambda kwargs, countdown=None, **options: queued.append((kwargs, countdown)))
    return queued


def run_queued(queued):
    from nps import tasks

    for kwargs, _ in queued:
        tasks.run_answer_loop.apply(kwargs=kwargs).get()


def test_a_scanners_posts_within_the_settle_period_leave_no_task_suppression_fact_or_invitation(
        client, tenant_a, settings, delayed_loops, django_capture_on_commit_callbacks):
    from advocacy.models import Stage, Suppression
    from programs.models import Invitation
    from rewards.models import AdvocateFact
    from tests.factories import AdvocateFactory

    settings.NPS_LOOP_SETTLE_SECONDS = 900
    candidate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE)
    send = SurveySendFactory(survey=SurveyFactory(workspace=tenant_a.workspace, auto_invite_promoters=True),
                             advocate=candidate)
    with django_capture_on_commit_callbacks(execute=True):
        for score in (0, 10, 3, 9):  # a headless scanner posting what it found
            client.post(url_of(send), {"score": str(score)})
        client.post(url_of(send), {"score": "8"})  # the person, within the settle period
    assert {countdown for _, countdown in delayed_loops} == {900}
    run_queued(delayed_loops)  # the settle period is over: each task reads the answer as it is now
    assert responses()[0].score == 8
    with scopes_disabled():
        assert not Task.objects.exists()
        assert not Suppression.objects.exists()
        assert not AdvocateFact.objects.filter(fact="promoter_answers").exists()
        assert not Invitation.objects.exists()
        candidate.refresh_from_db()
    assert candidate.stage == Stage.CANDIDATE


def test_the_final_answer_after_a_scanner_runs_the_loop_once(client, a_send, delayed_loops,
                                                               django_capture_on_commit_callbacks):
    from advocacy.models import Suppression

    with django_capture_on_commit_callbacks(execute=True):
        for score in (10, 2, 9, 1):
            client.post(url_of(a_send), {"score": str(score)})
    run_queued(delayed_loops)
    run_queued(delayed_loops)  # a redelivery changes nothing
    with scopes_disabled():
        [task] = Task.objects.all()
        assert "1 out of 10" in task.detail
        assert Suppression.objects.count() == 1
        assert responses()[0].follow_up_task_id == task.pk
