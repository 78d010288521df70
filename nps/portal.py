"""The survey in the member portal: the prompt on the portal home (``{% portal_nps_prompt
advocate %}`` of nps/templatetags/nps_tags.py: the latest unanswered send of the last 30
days, ``nps.queries.open_prompt``) with eleven score buttons that POST to
``/portal/<slug>/nps/<send_id>/answer/``; then ``/portal/<slug>/nps/<send_id>/`` shows the
answer, the follow-up question (POST ``comment/``) and lets the advocate change the score.

Only the signed-in advocate's own sends are found (another person's or another
workspace's id is a 404). A score that is not a whole number from 0 to 10 re-renders the
page with a 400; the services' refusals keep their status, never a 500.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from advocacy.errors import DomainError
from advocacy.web import PortalView

from .models import ResponseChannel, SurveyResponse, SurveySend
from .public import SCORES, parse_score
from .services import record_answer, record_comment


class _SendView(PortalView):
    def get_send(self, send_id: int) -> SurveySend:
        return get_object_or_404(
            SurveySend.objects.filter(workspace=self.workspace, advocate=self.advocate).select_related("survey", "response"),
            pk=send_id,
        )

    def page(self, send: SurveySend, *, status: int = 200, **extra):
        try:
            answer = send.response
        except SurveyResponse.DoesNotExist:
            answer = None
        return TemplateResponse(self.request, "portal/nps/survey.html", self.get_context_data(
            send=send, survey=send.survey, answer=answer, question=send.survey.question_for(self.workspace),
            follow_up=send.survey.follow_up_question, scores=SCORES, **extra,
        ), status=status)


class PortalSurveyView(_SendView):
    def get(self, request, send_id: int):
        return self.page(self.get_send(send_id))


class PortalAnswerView(_SendView):
    http_method_names = ["post"]

    def post(self, request, send_id: int):
        send = self.get_send(send_id)
        score = parse_score(request.POST.get("score"))
        if score is None:
            return self.page(send, status=400, error="Choose a score from 0 to 10.")
        try:
            record_answer(send=send, score=score, channel=ResponseChannel.PORTAL)
        except DomainError as exc:
            return self.page(send, status=exc.status, error=exc.message)
        messages.success(request, f"Thank you! You answered {score}.")
        return redirect("nps_portal_survey", self.workspace.slug, send.pk)


class PortalCommentView(_SendView):
    http_method_names = ["post"]

    def post(self, request, send_id: int):
        send = self.get_send(send_id)
        try:
            answer = send.response
        except SurveyResponse.DoesNotExist:
            return self.page(send, status=400, error="Choose a score first.")
        comment = request.POST.get("comment", "")
        try:
            record_comment(response=answer, comment=comment)
        except DomainError as exc:
            return self.page(send, status=exc.status, error=exc.message, comment_text=comment.replace("\x00", "")[:5000])
        messages.success(request, "Thank you for your comment.")
        return redirect("portal_home", self.workspace.slug)


urls = [
    path("<int:send_id>/", PortalSurveyView.as_view(), name="nps_portal_survey"),
    path("<int:send_id>/answer/", PortalAnswerView.as_view(), name="nps_portal_answer"),
    path("<int:send_id>/comment/", PortalCommentView.as_view(), name="nps_portal_comment"),
]
