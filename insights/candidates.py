"""Manager pages of the advocacy score at /w/<slug>/insights/: the candidates (people at
stage candidate, best score first, with the reasons from their stored breakdown; filters,
search, pagination, CSV export, and bulk invite of the top N or of the selected rows
through the advocate list's bulk-invite confirmation), and the score's weights with a
"Recompute now" button. The rules live in insights/scores.py and programs/invitations.py."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from advocacy.errors import DomainError
from advocacy.exports import inert, streaming_csv
from advocacy.models import Advocate, AdvocateType, Role, Stage, Tag, Workspace
from advocacy.tasks import enqueue
from advocacy.web import ManagerView, search_term
from programs import invitations
from programs.views.base import form_error
from programs.views.invitations import BulkInviteView

from . import scores

PAGE_SIZE = 50
FILTER_FIELDS = ("q", "tag", "type", "min_score")


class CandidateFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    tag = forms.CharField(required=False, max_length=50)
    type = forms.ChoiceField(required=False, choices=[("", "Any"), *AdvocateType.choices])
    min_score = forms.IntegerField(required=False, min_value=0, max_value=100, label="Minimum score")

    def values(self) -> dict:
        """The filters that were understood (an invalid one is ignored, not a 500)."""
        data = self.cleaned_data if self.is_bound else {}
        return {
            "q": search_term(self.data) if self.is_bound and "q" not in self.errors else "",
            "tag": " ".join((data.get("tag") or "").replace("\x00", "").split()).lower(),
            "type": data.get("type") or "",
            "min_score": data.get("min_score"),
        }


def candidates(workspace: Workspace, *, q: str = "", tag: str = "", type: str = "", min_score: int | None = None) -> QuerySet:
    """People at stage candidate, best score first."""
    rows = Advocate.objects.filter(workspace=workspace, stage=Stage.CANDIDATE, erased_at__isnull=True)
    if q:
        rows = rows.filter(Q(name__icontains=q) | Q(email__icontains=q) | Q(company__icontains=q))
    if tag:
        rows = rows.filter(tags__name=tag)
    if type:
        rows = rows.filter(type=type)
    if min_score is not None:
        rows = rows.filter(score__gte=min_score)
    return rows.order_by("-score", "id")


def _filters(view: ManagerView, data: QueryDict) -> tuple[CandidateFilterForm, dict]:
    present = {k: v for k, v in data.items() if k in FILTER_FIELDS and v != ""}
    form = CandidateFilterForm(present or None)
    if form.is_bound and not form.is_valid():
        messages.error(view.request, "Some filters were not understood and were ignored: "
                       + "; ".join(f"{form.fields[k].label or k.title()}: {' '.join(v)}" for k, v in form.errors.items()))
    return form, form.values()


def _query(values: dict) -> str:
    return urlencode({k: v for k, v in values.items() if v not in ("", None)})


class CandidatesView(ManagerView):
    """Candidates by score with the reasons, filters, pagination and the invite actions."""

    def get(self, request):
        form, values = _filters(self, request.GET)
        page = Paginator(candidates(self.workspace, **values).prefetch_related("tags"), PAGE_SIZE).get_page(request.GET.get("page"))
        return TemplateResponse(request, "manager/insights/candidates.html", self.get_context_data(
            form=form, values=values, page=page, query=_query(values),
            tags=list(Tag.objects.filter(workspace=self.workspace).order_by("name").values_list("name", flat=True)[:500]),
            types=AdvocateType.choices, can_invite=self.membership.has_role(Role.MANAGER), max_bulk=invitations.MAX_BULK,
        ))


class CandidatesExportView(ManagerView):
    """The filtered candidates as CSV, streamed, best score first, with the reasons."""

    HEADER = ["id", "name", "email", "company", "title", "type", "tags", "score", "reasons", "customer_since",
              "last_activity_at"]

    def get(self, request):
        _, values = _filters(self, request.GET)
        rows = candidates(self.workspace, **values).prefetch_related("tags")

        def as_rows():
            for a in rows.iterator(chunk_size=2000):
                yield [
                    a.pk, inert(a.name), inert(a.email), inert(a.company), inert(a.title), a.type,
                    inert(", ".join(t.name for t in a.tags.all())), a.score, inert(" · ".join(scores.score_reasons(a))),
                    a.customer_since.isoformat() if a.customer_since else "",
                    a.last_activity_at.isoformat() if a.last_activity_at else "",
                ]

        return streaming_csv(workspace=self.workspace, name="candidates", header=self.HEADER, rows=as_rows)


def _ids(query: QueryDict) -> list[int] | None:
    raw = [v for v in query.getlist("id") if v]
    if not raw:
        return None
    return [int(v) for v in raw if v.isascii() and v.isdigit() and len(v) < 12]


class CandidateInviteView(BulkInviteView):
    """The advocate list's bulk-invite confirmation and sending (programs), for the top N
    candidates of the filter (``top``) or the selected ones (``id``, repeated)."""

    def people(self, query: QueryDict):
        ids = _ids(query)
        if ids is not None:
            if len(ids) > invitations.MAX_BULK:
                return None, f"Choose at most {invitations.MAX_BULK:,} people at a time."
            rows = list(Advocate.objects.filter(workspace=self.workspace, pk__in=ids).order_by("-score", "id"))
            return (rows, "") if rows else (None, "None of the chosen people is in this workspace; choose them again.")
        raw = (query.get("top") or "").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) < 6 and 1 <= int(raw) <= invitations.MAX_BULK):
            return None, f"Say how many of the best-scored candidates to invite: a whole number from 1 to {invitations.MAX_BULK:,}."
        form = CandidateFilterForm({k: v for k, v in query.items() if k in FILTER_FIELDS and v != ""} or None)
        if form.is_bound and not form.is_valid():
            return None, "Some filters were not understood; go back to the candidates and filter again."
        return list(candidates(self.workspace, **form.values())[: int(raw)]), ""

    def get_context_data(self, **kwargs):
        query = QueryDict(kwargs.get("query") or "")
        filters = {k: v for k, v in query.items() if k in FILTER_FIELDS and v}
        kwargs["back"] = reverse("insights_candidates", args=[self.workspace.slug]) + (f"?{urlencode(filters)}" if filters else "")
        return super().get_context_data(**kwargs)


class WeightsForm(forms.Form):
    def __init__(self, *args, weights: dict[str, int], **kwargs):
        super().__init__(*args, **kwargs)
        for name in scores.SIGNALS:
            self.fields[name] = forms.IntegerField(
                label=scores.LABELS[name], min_value=0, max_value=scores.MAX_WEIGHT, initial=weights[name],
                help_text=scores.EXPLANATIONS[name],
            )

    def clean(self):
        data = super().clean()
        if not self.errors and not any(data.get(k) for k in scores.SIGNALS):
            raise forms.ValidationError("Give at least one signal a weight above 0.")
        return data


BANDS = ((0, 19), (20, 39), (40, 59), (60, 79), (80, 100))


def score_bands(workspace: Workspace) -> list[dict]:
    """How many people (not erased) score in each band of 20, in one query."""
    counts = Advocate.objects.filter(workspace=workspace, erased_at__isnull=True).aggregate(**{
        f"b{low}": Count("id", filter=Q(score__gte=low, score__lte=high)) for low, high in BANDS
    })
    top = max(counts.values(), default=0) or 1
    return [{"label": f"{low} to {high}", "count": counts[f"b{low}"], "percent": round(100 * counts[f"b{low}"] / top)}
            for low, high in BANDS]


class ScoreSettingsView(ManagerView):
    """The score's weights (owners and managers change them; viewers read them), what each
    signal means, and "Recompute now"."""

    def render(self, form, status=200):
        weights = scores.score_weights(self.workspace)
        total = sum(weights.values()) or 1
        rows = [{"name": k, "label": scores.LABELS[k], "explanation": scores.EXPLANATIONS[k], "weight": weights[k],
                 "share": round(100 * weights[k] / total), "field": form[k]} for k in scores.SIGNALS]
        return TemplateResponse(self.request, "manager/insights/score.html", self.get_context_data(
            form=form, rows=rows, can_write=self.membership.has_role(self.write_role), bands=score_bands(self.workspace),
        ), status=status)

    def get(self, request):
        return self.render(WeightsForm(weights=scores.score_weights(self.workspace)))

    def post(self, request):
        if "recompute" in request.POST:
            from .tasks import recompute_scores_in_workspace

            enqueue(recompute_scores_in_workspace, workspace_id=self.workspace.pk)
            messages.success(request, "Scores are being recomputed; reload the candidates in a moment.")
            return redirect("insights_score", self.workspace.slug)
        form = WeightsForm(request.POST, weights=scores.score_weights(self.workspace))
        if not form.is_valid():
            return self.render(form, status=400)
        try:
            scores.update_score_weights(workspace=self.workspace, actor=request.user,
                                        weights={k: form.cleaned_data[k] for k in scores.SIGNALS})
        except DomainError as exc:
            return self.render(form, status=form_error(form, exc))
        messages.success(request, "Score weights saved; every score is being recomputed with them.")
        return redirect("insights_score", self.workspace.slug)
