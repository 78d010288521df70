"""The NPS survey email: the question with the company's name and eleven links, one per
score (``/s/<token>?score=N``), each a big cell that is easy to tap on a phone; the text
version lists the eleven links too. Sent through ``advocacy.notifications.email_advocate``
(preferences, unsubscribe link and ``List-Unsubscribe`` headers)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from advocacy.notifications import email_advocate

from .models import SurveyChannel, SurveySend
from .tokens import make_token

# A dedupe record before each email: a redelivered task sends no second copy; removed when
# the sending fails, so the retry does send it.
SENT_MARK_TTL = int(timedelta(days=7).total_seconds())


def answer_url(send_id: int, score: int | None = None) -> str:
    url = settings.SITE_URL + reverse("nps_answer", args=[make_token(send_id)])
    return url if score is None else f"{url}?score={score}"


def survey_email_context(send: SurveySend) -> dict:
    survey = send.survey
    return {
        "survey": survey, "question": survey.question_for(send.workspace), "company": send.workspace.name,
        "scores": [{"score": n, "url": answer_url(send.pk, n)} for n in range(11)],
        "answer_url": answer_url(send.pk),
    }


def send_survey_emails(*, workspace_id: int, send_ids: list[int]) -> int:
    """Email each of these sends (by email) its survey; returns how many were sent."""
    rows = (SurveySend.objects.filter(workspace_id=workspace_id, pk__in=send_ids, channel=SurveyChannel.EMAIL)
            .select_related("survey", "workspace", "advocate", "advocate__workspace").order_by("pk"))
    sent = 0
    for send in rows:
        mark = f"nps:survey-email:{send.pk}"
        if not cache.add(mark, 1, timeout=SENT_MARK_TTL):
            continue
        try:
            sent += email_advocate(advocate=send.advocate, template="nps_survey", context=survey_email_context(send))
        except BaseException:
            cache.delete(mark)  # not sent: the task's retry must email this one
            raise
    return sent
