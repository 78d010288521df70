"""Reads of NPS that the manager pages, the API and the portal share.

Every figure is one query: a GROUP BY with conditional counts (``COUNT(*) FILTER (WHERE
category = …)``), never a loop over responses in Python.

- ``survey_figures(survey)``: the survey's NPS, its three counts, and ``sent`` = the people
  it was sent to, each counted once per round (the response rate is responses / people
  sent). For a one-off survey that is the distinct people; a recurring survey asks the same
  person again after 90 days and may get a second answer, so counting people once would let
  the rate pass 100%. The rate counts only answers to a send (``answered``): an
  integration's answer naming the survey counts in the NPS but was never sent;
- ``figures(workspace, start=, end=, survey=)``: the NPS of the answers in ``[start, end)``
  (all surveys and the integrations' answers when ``survey`` is None; ``sent`` is then
  None: integrations' answers were never "sent");
- ``trend_by_month(workspace, survey=, months=12)``: one row per calendar month of the
  workspace's time zone, the empty months included (their NPS is None, not 0);
- ``breakdown(workspace, by="tag"|"type"|"stage", survey=)``: by the person's type and stage
  *at the time of the answer* (so a promoter later invited stays where they answered), or
  by their tags (a person with two tags counts in both; untagged people under "No tag");
- ``survey_rows(queryset)``: surveys annotated with what the list shows (one query a page);
- ``open_prompt(advocate)``: the latest unanswered send of the last 30 days (the portal).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from advocacy.budget import workspace_zone
from advocacy.models import Advocate, AdvocateType, ContactHold, Stage, Workspace

from .maths import NpsFigures
from .models import Category, Survey, SurveyResponse, SurveySend

PROMPT_DAYS = 30
BREAKDOWNS = ("tag", "type", "stage")
NO_TAG = "No tag"


def _category_counts(prefix: str = "", extra: Q | None = None) -> dict:
    """``promoters``/``passives``/``detractors`` as conditional counts over ``prefix``
    (e.g. "responses__" from a survey)."""
    out = {}
    for name, category in (("promoters", Category.PROMOTER), ("passives", Category.PASSIVE), ("detractors", Category.DETRACTOR)):
        condition = Q(**{f"{prefix}category": category})
        if extra is not None:
            condition &= extra
        out[name] = Count(f"{prefix}pk" if prefix else "pk", filter=condition)
    return out


def _sent_subquery(start: datetime | None = None, end: datetime | None = None) -> Coalesce:
    """People sent the survey of the outer row, once per round (correlated on ``survey``)."""
    sends = SurveySend.objects.filter(survey=OuterRef("pk"))
    if start is not None:
        sends = sends.filter(sent_at__gte=start)
    if end is not None:
        sends = sends.filter(sent_at__lt=end)
    sub = sends.order_by().values("survey").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def _period_q(prefix: str, start: datetime | None, end: datetime | None) -> Q | None:
    q = Q()
    if start is not None:
        q &= Q(**{f"{prefix}answered_at__gte": start})
    if end is not None:
        q &= Q(**{f"{prefix}answered_at__lt": end})
    return q if q else None


def _answered_count(extra: Q | None = None) -> Count:
    """The survey's responses that answer a send (the response rate counts only these: an
    integration's answer naming the survey was never sent, so it counts in the NPS only)."""
    condition = Q(responses__send__isnull=False)
    if extra is not None:
        condition &= extra
    return Count("responses__pk", filter=condition)


def survey_rows(queryset: QuerySet) -> QuerySet:
    """Surveys with ``promoters``, ``passives``, ``detractors``, ``answered`` and ``sent`` (one
    query; the counts are joined once, the people sent counted in a correlated subquery)."""
    return queryset.annotate(**_category_counts("responses__"), answered=_answered_count(), sent=_sent_subquery())


def row_figures(survey) -> NpsFigures:
    """The figures of a row annotated by ``survey_rows``."""
    return NpsFigures(promoters=survey.promoters, passives=survey.passives, detractors=survey.detractors, sent=survey.sent,
                      answered=survey.answered)


def survey_figures(survey: Survey) -> NpsFigures:
    """The survey's NPS with its counts and the people it was sent to (one query)."""
    return figures(survey.workspace, survey=survey)


def figures(workspace: Workspace, *, start: datetime | None = None, end: datetime | None = None,
            survey: Survey | None = None) -> NpsFigures:
    """The NPS of the workspace's answers in ``[start, end)`` (one query)."""
    if survey is not None:
        row = (Survey.objects.filter(workspace=workspace, pk=survey.pk)
               .annotate(**_category_counts("responses__", _period_q("responses__", start, end)),
                         answered=_answered_count(_period_q("responses__", start, end)), sent=_sent_subquery(start, end))
               .values("promoters", "passives", "detractors", "answered", "sent").first())
        return NpsFigures(**row) if row else NpsFigures(sent=0)
    responses = SurveyResponse.objects.filter(workspace=workspace)
    if start is not None:
        responses = responses.filter(answered_at__gte=start)
    if end is not None:
        responses = responses.filter(answered_at__lt=end)
    return NpsFigures(**responses.aggregate(**_category_counts()))


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(day: date, n: int) -> date:
    index = day.year * 12 + day.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def trend_by_month(workspace: Workspace, *, survey: Survey | None = None, months: int = 12,
                   today: date | None = None) -> list[tuple[date, NpsFigures]]:
    """The last ``months`` calendar months (this one included), oldest first, each with
    the NPS of its answers; months without answers are there with no responses (one query)."""
    months = max(1, min(int(months), 60))
    zone = workspace_zone(workspace)
    today = today or timezone.localtime(timezone.now(), zone).date()
    first = _add_months(_month_start(today), -(months - 1))
    responses = SurveyResponse.objects.filter(workspace=workspace,
                                              answered_at__gte=datetime.combine(first, time.min, tzinfo=zone))
    if survey is not None:
        responses = responses.filter(survey=survey)
    rows = (responses.annotate(month=TruncMonth("answered_at", tzinfo=zone)).order_by()
            .values("month").annotate(**_category_counts()))
    found = {}
    for row in rows:
        month = row.pop("month")
        found[(month.date() if isinstance(month, datetime) else month).replace(day=1)] = NpsFigures(**row)
    return [(m, found.get(m, NpsFigures())) for m in (_add_months(first, i) for i in range(months))]


def breakdown(workspace: Workspace, *, by: str, survey: Survey | None = None) -> list[tuple[str, NpsFigures]]:
    """The NPS by tag, type or stage, the most answers first (one query)."""
    if by not in BREAKDOWNS:
        raise ValueError(f"breakdown by {by!r}: use one of {', '.join(BREAKDOWNS)}")
    responses = SurveyResponse.objects.filter(workspace=workspace)
    if survey is not None:
        responses = responses.filter(survey=survey)
    field = {"tag": "advocate__tags__name", "type": "advocate_type", "stage": "advocate_stage"}[by]
    labels = {"type": dict(AdvocateType.choices), "stage": dict(Stage.choices)}.get(by, {})
    rows = responses.order_by().values(field).annotate(**_category_counts())
    out = []
    for row in rows:
        key = row.pop(field)
        label = NO_TAG if key is None else str(labels.get(key, key))
        out.append((label, NpsFigures(**row)))
    out.sort(key=lambda item: (-item[1].responses, item[0] == NO_TAG, item[0].lower()))
    return out


def responses(workspace: Workspace, *, survey: Survey | None = None, category: str = "", q: str = "") -> QuerySet:
    """Answers, newest first, with the person, the survey and the follow-up task (one query a page)."""
    rows = SurveyResponse.objects.filter(workspace=workspace)
    if survey is not None:
        rows = rows.filter(survey=survey)
    if category:
        rows = rows.filter(category=category)
    if q:
        rows = rows.filter(Q(advocate__name__icontains=q) | Q(advocate__email__icontains=q))
    return rows.select_related("advocate", "survey", "follow_up_task").order_by("-answered_at", "-id")


def held_back(survey: Survey) -> QuerySet:
    """The people the survey held back (the budget, the 90-day throttle, no channel), with why."""
    return (ContactHold.objects.filter(workspace_id=survey.workspace_id, subject_type="survey", subject_id=survey.pk)
            .select_related("advocate").order_by("-held_at", "-id"))


def audience(survey: Survey) -> QuerySet:
    """The people the survey is for, before the throttle and the budget (the rule is
    nps.services.audience_of's: never opted-out or erased people, nor people with neither
    an email address nor the portal)."""
    from .services import audience_of

    return audience_of(survey)


def audience_label(survey: Survey) -> str:
    if survey.audience == "tag":
        return f"Tag “{survey.audience_tag.name}”" if survey.audience_tag_id else "A tag (none chosen)"
    if survey.audience == "type":
        return f"Type: {AdvocateType(survey.audience_type).label}" if survey.audience_type else "A type (none chosen)"
    if survey.audience == "stage":
        return f"Stage: {Stage(survey.audience_stage).label}" if survey.audience_stage else "A stage (none chosen)"
    return "Everybody"


def open_detractor_tasks(workspace: Workspace) -> int:
    from advocacy.models import Task, TaskKind

    return Task.objects.filter(workspace=workspace, kind=TaskKind.DETRACTOR, status=Task.Status.OPEN).count()


def open_prompt(advocate: Advocate) -> SurveySend | None:
    """The advocate's latest unanswered survey of the last 30 days (the portal's prompt)."""
    since = timezone.now() - timedelta(days=PROMPT_DAYS)
    return (SurveySend.objects.filter(workspace_id=advocate.workspace_id, advocate=advocate, sent_at__gte=since,
                                      answered_at__isnull=True, response__isnull=True)
            .select_related("survey").order_by("-sent_at", "-id").first())
