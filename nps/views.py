"""Manager pages of NPS at /w/<slug>/nps/: the workspace's NPS overview (every survey and
the integrations' answers, the trend by month) above the surveys; a survey's form (its
audience fields shown one at a time); a survey's page (its NPS with the three counts and
the response rate, the trend as a chart and a table, breakdowns by tag, type and stage,
its answers filtered and searched, the people it held back with why); the actions
(activate, pause, send now after a confirmation that counts the audience, delete unless it
has sends); every answer of the workspace; CSV exports of answers and of each breakdown.

The rules live in nps/services.py; the figures in nps/queries.py."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from advocacy.errors import DomainError
from advocacy.exports import inert, streaming_csv
from advocacy.models import Role
from advocacy.web import ManagerView, WorkspaceTimeMixin

from . import queries
from .charts import trend_svg
from .forms import PERIODS, PeriodForm, ResponseFilterForm, SurveyForm
from .models import Survey, SurveyStatus

PAGE_SIZE = 50
HELD_SHOWN = 100
TREND_MONTHS = {"6": 6, "12": 12, "24": 24}
ACTIONS = ("activate", "pause", "send", "delete")


def services():
    """nps.services, imported when a page changes something (written alongside these pages)."""
    from . import services as svc

    return svc


def form_error(form, exc: DomainError) -> int:
    """A service's refusal on the form: per-field messages by the fields, the rest on top."""
    placed = False
    for field, errors in (exc.fields or {}).items():
        if field in form.fields:
            form.add_error(field, errors)
            placed = True
    if not placed or not exc.fields:
        form.add_error(None, exc.message)
    return 409 if exc.status == 409 else 400


class NpsView(ManagerView, WorkspaceTimeMixin):
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("can_write", self.membership.has_role(self.write_role))
        return context

    def survey(self, survey_id: int) -> Survey:
        survey = get_object_or_404(Survey.objects.filter(workspace=self.workspace).select_related("audience_tag"), pk=survey_id)
        survey.workspace = self.workspace  # the question and the figures read it: no second fetch
        return survey


def _months(request) -> int:
    value = request.GET.get("months") or "12"
    return TREND_MONTHS.get(value, 12)


def _response_filters(view) -> tuple[ResponseFilterForm, dict]:
    form = ResponseFilterForm(view.request.GET or None)
    if form.is_bound and not form.is_valid():
        messages.error(view.request, "Some filters were not understood and were ignored.")
    return form, form.values()


def _period(view) -> tuple[PeriodForm, dict]:
    form = PeriodForm(view.request.GET or None)
    if form.is_bound and not form.is_valid():
        messages.error(view.request, "That period was not understood; showing all time.")
    return form, form.values()


def _keep(request, *drop: str) -> str:
    """The page's query string without ``drop`` (links that change one thing keep the rest)."""
    query = request.GET.copy()
    for name in drop:
        query.pop(name, None)
    return query.urlencode()


def _trend_context(request, workspace, survey=None, months=12) -> dict:
    trend = queries.trend_by_month(workspace, survey=survey, months=months)
    return {"trend": trend, "chart": trend_svg(trend, title=f"NPS by month, the last {months} months"), "months": months,
            "month_choices": list(TREND_MONTHS), "keep": _keep(request, "months", "page")}


class OverviewView(NpsView):
    """The workspace's NPS (every answer: surveys and integrations) and its surveys."""

    def get(self, request):
        months = _months(request)
        period_form, period = _period(self)
        rows = queries.survey_rows(Survey.objects.filter(workspace=self.workspace).select_related("audience_tag"))
        page = Paginator(rows.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
        return TemplateResponse(request, "manager/nps/overview.html", self.get_context_data(
            overall=queries.figures(self.workspace, start=period["start"], end=period["end"]), period_form=period_form,
            period=period, periods=PERIODS, page=page, query=_keep(request, "page"),
            rows=[(s, queries.row_figures(s), queries.audience_label(s)) for s in page.object_list],
            detractor_tasks=queries.open_detractor_tasks(self.workspace),
            **_trend_context(request, self.workspace, months=months),
        ))


class SurveyFormView(NpsView):
    read_role = Role.MANAGER  # a form a viewer could not submit is not shown to them

    def render(self, form, survey, status=200):
        return TemplateResponse(self.request, "manager/nps/form.html",
                                self.get_context_data(form=form, survey=survey), status=status)

    def get(self, request, survey_id: int | None = None):
        survey = self.survey(survey_id) if survey_id else None
        initial = SurveyForm.initial_for(survey) if survey else None
        return self.render(SurveyForm(initial=initial, workspace=self.workspace, survey=survey), survey)

    def post(self, request, survey_id: int | None = None):
        survey = self.survey(survey_id) if survey_id else None
        form = SurveyForm(request.POST, workspace=self.workspace, survey=survey)
        if not form.is_valid():
            return self.render(form, survey, status=400)
        svc = services()
        try:
            if survey is None:
                survey = svc.create_survey(workspace=self.workspace, actor=request.user, data=form.service_data())
            else:
                survey = svc.update_survey(survey=survey, actor=request.user, data=form.service_data())
        except DomainError as exc:
            return self.render(form, survey, status=form_error(form, exc))
        messages.success(request, f"“{survey.name}” is saved.")
        return redirect("nps_survey", self.workspace.slug, survey.pk)


class SurveyDetailView(NpsView):
    def get(self, request, survey_id: int):
        survey = self.survey(survey_id)
        months = _months(request)
        form, values = _response_filters(self)
        rows = queries.responses(self.workspace, survey=survey, category=values["category"], q=values["q"])
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        held = queries.held_back(survey)
        query = urlencode({k: v for k, v in {"months": months, **values}.items() if v})
        return TemplateResponse(request, "manager/nps/detail.html", self.get_context_data(
            survey=survey, figures=queries.survey_figures(survey), audience=queries.audience_label(survey),
            breakdowns=[(by, queries.breakdown(self.workspace, by=by, survey=survey)) for by in queries.BREAKDOWNS],
            form=form, values=values, page=page, query=query,
            held=list(held[:HELD_SHOWN]), held_count=held.count(),
            actions=available_actions(survey), detractor_tasks=queries.open_detractor_tasks(self.workspace),
            **_trend_context(request, self.workspace, survey=survey, months=months),
        ))


def available_actions(survey: Survey) -> list[str]:
    """What the survey's page offers (the services decide; a stale page gets their refusal)."""
    actions = []
    if survey.status in (SurveyStatus.DRAFT, SurveyStatus.PAUSED):
        actions.append("activate")
    if survey.status == SurveyStatus.ACTIVE:
        actions.append("pause")
    if survey.status != SurveyStatus.DONE:
        actions.append("send")
    actions.append("delete")
    return actions


class SurveyActionView(NpsView):
    """GET: the confirmation (send now counts the audience). POST: do it."""

    read_role = Role.MANAGER

    def render(self, survey, action, error="", status=200):
        audience = queries.audience(survey).count() if action == "send" else None
        return TemplateResponse(self.request, "manager/nps/action.html", self.get_context_data(
            survey=survey, action=action, error=error, audience=audience, audience_label=queries.audience_label(survey),
            has_sends=survey.sends.exists() if action == "delete" else False,
        ), status=status)

    def target(self, survey_id: int, action: str) -> Survey:
        if action not in ACTIONS:
            raise Http404("No such action.")
        return self.survey(survey_id)

    def get(self, request, survey_id: int, action: str):
        return self.render(self.target(survey_id, action), action)

    def post(self, request, survey_id: int, action: str):
        survey = self.target(survey_id, action)
        svc = services()
        try:
            if action == "activate":
                svc.activate_survey(survey=survey, actor=request.user)
                messages.success(request, f"“{survey.name}” is active: its next round goes out within the hour.")
            elif action == "pause":
                svc.pause_survey(survey=survey, actor=request.user)
                messages.success(request, f"“{survey.name}” is paused: no more rounds until you activate it.")
            elif action == "send":
                result = svc.send_survey_now(survey=survey, actor=request.user)
                messages.success(request, f"Round {result.round} of “{survey.name}”: sent to {result.sent}"
                                          f" {'person' if result.sent == 1 else 'people'}, {result.held} held back.")
            else:
                name = survey.name
                svc.delete_survey(survey=survey, actor=request.user)
                messages.success(request, f"“{name}” is deleted.")
                return redirect("nps_overview", self.workspace.slug)
        except DomainError as exc:
            survey.refresh_from_db()
            return self.render(survey, action, error=exc.message, status=409 if exc.status == 409 else 400)
        return redirect("nps_survey", self.workspace.slug, survey.pk)


class ResponseListView(NpsView):
    """Every answer of the workspace (surveys and integrations), filtered and searched."""

    def get(self, request):
        form, values = _response_filters(self)
        rows = queries.responses(self.workspace, category=values["category"], q=values["q"])
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        query = urlencode({k: v for k, v in values.items() if v})
        return TemplateResponse(request, "manager/nps/responses.html", self.get_context_data(
            form=form, values=values, page=page, query=query,
            breakdowns=[(by, queries.breakdown(self.workspace, by=by)) for by in queries.BREAKDOWNS],
        ))


RESPONSE_HEADER = ["id", "answered_at", "survey", "advocate_id", "advocate_email", "advocate_name", "score", "category",
                   "comment", "channel", "advocate_type", "advocate_stage", "external_id", "follow_up_task", "follow_up_status"]


def _response_csv(workspace, rows, name: str):
    def as_rows():
        for r in rows.iterator(chunk_size=2000):
            task = r.follow_up_task
            yield [r.pk, r.answered_at.isoformat(), inert(r.survey.name) if r.survey else "", r.advocate_id,
                   inert(r.advocate.email), inert(r.advocate.name), r.score, r.category, inert(r.comment), r.channel,
                   r.advocate_type, r.advocate_stage, inert(r.external_id or ""), task.pk if task else "",
                   task.status if task else ""]

    return streaming_csv(workspace=workspace, name=name, header=RESPONSE_HEADER, rows=as_rows)


BREAKDOWN_HEADER = ["group", "responses", "promoters", "passives", "detractors", "nps"]


def _breakdown_csv(view, survey=None):
    by = view.request.GET.get("by") or "tag"
    if by not in (*queries.BREAKDOWNS, "month"):
        raise Http404("No such breakdown: use by=tag, type, stage or month.")
    if by == "month":
        rows = [(f"{m:%Y-%m}", f) for m, f in queries.trend_by_month(view.workspace, survey=survey, months=_months(view.request))]
    else:
        rows = queries.breakdown(view.workspace, by=by, survey=survey)
    name = f"nps-{f'survey-{survey.pk}-' if survey else ''}by-{by}"
    return streaming_csv(workspace=view.workspace, name=name, header=[by, *BREAKDOWN_HEADER[1:]], rows=lambda: (
        [inert(label), f.responses, f.promoters, f.passives, f.detractors, "" if f.nps is None else f.nps] for label, f in rows))


class ResponseExportView(NpsView):
    def get(self, request):
        _, values = _response_filters(self)
        return _response_csv(self.workspace, queries.responses(self.workspace, category=values["category"], q=values["q"]),
                             "nps-responses")


class BreakdownExportView(NpsView):
    def get(self, request):
        return _breakdown_csv(self)


class SurveyResponseExportView(NpsView):
    def get(self, request, survey_id: int):
        survey = self.survey(survey_id)
        _, values = _response_filters(self)
        rows = queries.responses(self.workspace, survey=survey, category=values["category"], q=values["q"])
        return _response_csv(self.workspace, rows, f"nps-survey-{survey.pk}-responses")


class SurveyBreakdownExportView(NpsView):
    def get(self, request, survey_id: int):
        return _breakdown_csv(self, self.survey(survey_id))
