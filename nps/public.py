"""The answer page of a survey email: ``/s/<token>`` and ``/s/<token>?score=N``.

Prefetch resistance (the decision): **a GET never records anything.** Mail scanners and
link-preview bots fetch every link of an email (all eleven scores), so recording on GET
would store whatever score the scanner fetched last. Instead:

- ``GET /s/<token>?score=N`` shows the chosen score highlighted in a form that POSTs it.
  A small inline script submits that form as soon as the page is shown to a person
  (``document.visibilityState == "visible"``, after a short pause), so for a person it is
  still one click; without JavaScript a big "Confirm my score" button does the same.
  Scanners that only fetch links (the usual kind) record nothing; one that runs scripts
  in a headless browser could still post a score, which the person can change with the
  same link (answering again replaces the answer; it never counts twice).
- The promoter/detractor loop does not run on the POST: it runs from a task delayed by
  the settle period (``settings.NPS_LOOP_SETTLE_SECONDS``, default 600 s; nps/loop.py),
  which reads the answer's category *at that time*. So a scanner's posts within the
  settle period (all eleven scores, say) leave no follow-up task, no "no asks"
  suppression, no promoter badge fact and no invitation, unless the final answer (the
  person's own, or the scanner's if nobody answers after it) says so; the loop runs
  once per response whatever the number of posts (its dedupe keys).
- ``POST`` with ``score`` records it (``nps.services.record_answer``), then redirects to
  ``GET /s/<token>``, which shows the recorded answer, the follow-up question (a POST with
  ``comment``) and the eleven scores to change it.
- ``HEAD`` does nothing (no query either).

CSRF: the form carries Django's CSRF token; the GET page sets the cookie, so the POST from
the same page passes the ordinary check (no exemption needed; the token in the URL is what
says whose answer it is).

The hot path does the least: the token's signature is checked first (a forged or mangled
token costs no query and is a friendly 404 page), then one ``select_related`` fetch of the
send with its survey, workspace, person and answer. A ``score`` that is not exactly an
ASCII whole number from 0 to 10 (``10.0``, ``-1``, ``11``, ``٣``, a huge number) is a 400
page, never a 500.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.views import View

from advocacy.errors import DomainError
from advocacy.scoping import scopes_disabled, workspace_scope

from .models import ResponseChannel, SurveyResponse, SurveySend
from .services import record_answer, record_comment
from .tokens import read_token

SCORE = re.compile(r"^(?:10|[0-9])$")
SCORES = list(range(11))


def parse_score(raw: str | None) -> int | None:
    """The score of a query string or form: an int 0..10, or None when it is not one."""
    if raw is None or not isinstance(raw, str) or not raw.isascii() or not SCORE.match(raw):
        return None
    return int(raw)


def _not_found(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "public/nps_not_found.html", {}, status=404)


def _bad_score(request: HttpRequest, send: SurveySend, token: str) -> HttpResponse:
    context = {"send": send, "send_token": token, "scores": SCORES, "question": send.survey.question_for(send.workspace)}
    response = TemplateResponse(request, "public/nps_bad_score.html", context, status=400)
    response["Cache-Control"] = "no-store"
    return response


def _send_for(token: str) -> SurveySend | None:
    send_id = read_token(token)
    if send_id is None:
        return None
    with scopes_disabled():
        send = (SurveySend.objects.select_related("survey", "workspace", "advocate", "response")
                .filter(pk=send_id).first())
    if send is None or send.advocate.is_erased:
        return None
    return send


def _answer_of(send: SurveySend) -> SurveyResponse | None:
    try:
        return send.response
    except SurveyResponse.DoesNotExist:
        return None


class AnswerView(View):
    http_method_names = ["get", "post", "head"]

    def head(self, request, token: str):
        return HttpResponse(status=200)

    def render(self, request, send: SurveySend, *, status: int = 200, **extra) -> HttpResponse:
        answer = _answer_of(send)
        context = {
            "send": send, "survey": send.survey, "workspace": send.workspace, "answer": answer,
            "question": send.survey.question_for(send.workspace), "scores": SCORES, "token": self.kwargs["token"],
            "follow_up": send.survey.follow_up_question, **extra,
        }
        with workspace_scope(send.workspace_id):
            response = TemplateResponse(request, "public/nps_answer.html", context, status=status)
            response.render()
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex"
        return response

    def get(self, request, token: str):
        send = _send_for(token)
        if send is None:
            return _not_found(request)
        if "score" in request.GET:
            score = parse_score(request.GET.get("score"))
            if score is None:
                return _bad_score(request, send, token)
            answer = _answer_of(send)
            if answer is None or answer.score != score:
                # Shown, not recorded: the page posts it (see the module's docstring).
                return self.render(request, send, pending=score)
        return self.render(request, send, thanks=request.GET.get("thanks") == "1")

    def post(self, request, token: str):
        send = _send_for(token)
        if send is None:
            return _not_found(request)
        has_score = "score" in request.POST
        has_comment = "comment" in request.POST
        if not has_score and not has_comment:
            return _bad_score(request, send, token)
        try:
            with workspace_scope(send.workspace_id):
                if has_score:
                    score = parse_score(request.POST.get("score"))
                    if score is None:
                        return _bad_score(request, send, token)
                    record_answer(send=send, score=score, channel=ResponseChannel.EMAIL,
                                  comment=request.POST["comment"] if has_comment else None)
                else:
                    answer = _answer_of(send)
                    if answer is None:
                        return self.render(request, send, status=400, error="Choose a score first.")
                    record_comment(response=answer, comment=request.POST.get("comment", ""))
        except DomainError as exc:
            send = _send_for(token) or send
            return self.render(request, send, status=exc.status, error=exc.message,
                               comment_text=request.POST.get("comment", "")[:5000].replace("\x00", ""))
        target = redirect("nps_answer", token)
        if has_comment:
            target["Location"] += "?thanks=1"
        return target


urls = [
    path("s/<str:token>", AnswerView.as_view(), name="nps_answer"),
    path("s/<str:token>/", AnswerView.as_view(), name="nps_answer_slash"),
]
