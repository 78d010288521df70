"""The survey in the member portal: the home page shows the open prompt (the latest
unanswered send of the last 30 days) with eleven buttons; a score posted from it is
recorded with the portal channel and the follow-up question comes next; only the
advocate's own sends are found; bad scores are a 400 page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from advocacy.scoping import scopes_disabled
from nps.models import SurveyResponse
from tests.factories import AdvocateFactory, SurveyFactory, SurveySendFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, tenant_a):
    client.force_login(tenant_a.advocate_user)
    return client


def send_to(advocate, **fields):
    survey = SurveyFactory(workspace=advocate.workspace, follow_up_question="What would make it a 10?")
    return SurveySendFactory(survey=survey, advocate=advocate, channel="portal", **fields)


def home(client, tenant) -> str:
    page = client.get(reverse("portal_home", args=[tenant.workspace.slug]))
    assert page.status_code == 200
    return page.content.decode()


def answer_url(tenant, send) -> str:
    return reverse("nps_portal_answer", args=[tenant.workspace.slug, send.pk])


def test_the_home_page_shows_the_open_survey_with_eleven_buttons(signed_in, tenant_a):
    send = send_to(tenant_a.advocate)
    body = home(signed_in, tenant_a)
    assert "One quick question" in body
    assert f"How likely are you to recommend {tenant_a.workspace.name}" in body
    assert answer_url(tenant_a, send) in body
    for n in range(11):
        assert f'name="score" value="{n}"' in body


def test_no_prompt_when_answered_too_old_or_none(signed_in, tenant_a):
    assert "One quick question" not in home(signed_in, tenant_a)
    send_to(tenant_a.advocate, sent_at=timezone.now() - timedelta(days=31))
    assert "One quick question" not in home(signed_in, tenant_a)
    answered = send_to(tenant_a.advocate)
    signed_in.post(answer_url(tenant_a, answered), {"score": "7"})
    assert "One quick question" not in home(signed_in, tenant_a)


def test_a_score_from_the_portal_is_recorded_and_the_follow_up_question_comes_next(signed_in, tenant_a):
    send = send_to(tenant_a.advocate)
    posted = signed_in.post(answer_url(tenant_a, send), {"score": "10"})
    survey_url = reverse("nps_portal_survey", args=[tenant_a.workspace.slug, send.pk])
    assert posted.status_code == 302 and posted["Location"] == survey_url
    with scopes_disabled():
        response = SurveyResponse.objects.get()
    assert (response.score, response.channel) == (10, "portal")
    body = signed_in.get(survey_url).content.decode()
    assert "What would make it a 10?" in body and "You answered <strong>10</strong>" in body

    comment_url = reverse("nps_portal_comment", args=[tenant_a.workspace.slug, send.pk])
    done = signed_in.post(comment_url, {"comment": "Keep shipping."})
    assert done.status_code == 302
    with scopes_disabled():
        assert SurveyResponse.objects.get().comment == "Keep shipping."


def test_changing_the_score_in_the_portal_replaces_it(signed_in, tenant_a):
    send = send_to(tenant_a.advocate)
    signed_in.post(answer_url(tenant_a, send), {"score": "4"})
    signed_in.post(answer_url(tenant_a, send), {"score": "8"})
    with scopes_disabled():
        assert list(SurveyResponse.objects.values_list("score", flat=True)) == [8]


@pytest.mark.parametrize("score", ["11", "-1", "10.0", "٣", "", "9" * 30])
def test_a_bad_score_is_a_400_page(signed_in, tenant_a, score):
    send = send_to(tenant_a.advocate)
    page = signed_in.post(answer_url(tenant_a, send), {"score": score})
    assert page.status_code == 400
    assert "Choose a score from 0 to 10." in page.content.decode()
    with scopes_disabled():
        assert not SurveyResponse.objects.exists()


def test_a_comment_before_a_score_or_with_nul_is_refused(signed_in, tenant_a):
    send = send_to(tenant_a.advocate)
    comment_url = reverse("nps_portal_comment", args=[tenant_a.workspace.slug, send.pk])
    assert signed_in.post(comment_url, {"comment": "hi"}).status_code == 400
    signed_in.post(answer_url(tenant_a, send), {"score": "5"})
    assert signed_in.post(comment_url, {"comment": "a\x00b"}).status_code == 400


def test_another_persons_send_is_not_found(signed_in, tenant_a, tenant_b):
    someone_else = send_to(AdvocateFactory(workspace=tenant_a.workspace))
    assert signed_in.post(answer_url(tenant_a, someone_else), {"score": "9"}).status_code == 404
    assert signed_in.get(reverse("nps_portal_survey", args=[tenant_a.workspace.slug, someone_else.pk])).status_code == 404
    foreign = send_to(tenant_b.advocate)
    assert signed_in.post(answer_url(tenant_a, foreign), {"score": "9"}).status_code == 404
    with scopes_disabled():
        assert not SurveyResponse.objects.exists()


def test_the_answer_address_takes_posts_only(signed_in, tenant_a):
    send = send_to(tenant_a.advocate)
    assert signed_in.get(answer_url(tenant_a, send)).status_code == 405
