"""The answer page in a browser: after the automatic POST of ``/s/<token>?score=N``, the
"Back" button never posts that (older) score again: the page replaces its history entry
with the plain answer page before posting (templates/public/nps_answer.html)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from advocacy.scoping import scopes_disabled
from nps.models import SurveyResponse
from nps.tokens import make_token
from tests.factories import SurveyFactory, SurveySendFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def stored_score(send) -> int:
    with scopes_disabled():
        return SurveyResponse.objects.get(send=send).score


def test_back_after_changing_the_score_does_not_post_the_old_score_again(page, tenant_a):
    send = SurveySendFactory(survey=SurveyFactory(workspace=tenant_a.workspace, follow_up_question=""),
                             advocate=tenant_a.advocate)
    plain = reverse("nps_answer", args=[make_token(send.pk)])
    page.goto(f"{plain}?score=3")
    expect(page.get_by_role("heading", name="Thank you, you answered 3")).to_be_visible()
    assert page.url.endswith(plain)
    page.get_by_text("Change my score (3)").click()
    page.get_by_role("button", name="9", exact=True).click()
    expect(page.get_by_role("heading", name="Thank you, you answered 9")).to_be_visible()

    page.go_back()
    page.go_back()
    page.wait_for_timeout(800)  # the automatic POST would have gone by now
    expect(page.get_by_role("heading", name="Thank you, you answered 9")).to_be_visible()
    assert stored_score(send) == 9
