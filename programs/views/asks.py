"""Asks: the create/edit form under a program (points suggested by effort, audience,
reference-call prospect), the detail page (progress, assignments by state, the people held
back and why), offering by hand, closing (with how many offers it withdraws) and opening,
and the assignments as CSV."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from advocacy.errors import DomainError
from advocacy.exports import inert, streaming_csv
from advocacy.models import Advocate, ContactHold, Role, Stage
from advocacy.web import search_term
from rewards.services import tier_ladder

from .. import services, states
from ..forms import AskForm, ReasonForm
from ..models import DEFAULT_POINTS, Ask, AskKind, AskStatus, Assignment, AssignmentState, Program
from .base import PAGE_SIZE, ProgramsView, form_error, status_of
from .reads import ask_rows

S = AssignmentState
# The assignment filters of an ask's page: a state, or the groups PRODUCT.md's formula uses.
STATE_FILTERS = [("all", "All"), ("outstanding", "Waiting for an answer"), ("in_progress", "In progress"),
                 ("submitted", "Proof to review"), ("approved", "Approved"), ("ended", "Declined, expired, rejected, withdrawn")]
STATE_GROUPS = {
    "outstanding": list(states.OUTSTANDING), "in_progress": list(states.IN_PROGRESS), "submitted": [S.SUBMITTED],
    "approved": [S.APPROVED], "ended": [S.DECLINED, S.EXPIRED, S.REJECTED, S.WITHDRAWN],
}
HOLDS_SHOWN = 50
OFFER_SEARCH_RESULTS = 20


def ask_form_context() -> dict:
    return {
        "default_points": {str(k): v for k, v in DEFAULT_POINTS.items()},
        "reference_call": AskKind.REFERENCE_CALL.value,
    }


class AskFormView(ProgramsView):
    """Create an ask under a program (``program_id``) or edit one (``ask_id``)."""

    read_role = Role.MANAGER  # a form a viewer could not submit is not shown to them

    def objects(self, program_id, ask_id):
        if ask_id is not None:
            ask = self.get_for_workspace(Ask, pk=ask_id)
            return ask.program, ask
        return self.get_for_workspace(Program, pk=program_id), None

    def make_form(self, ask, data=None, initial=None):
        tiers = [t.name for t in tier_ladder(self.workspace)]
        return AskForm(data, initial=initial, tiers=tiers, creating=ask is None)

    def render(self, form, program, ask, status=200):
        return TemplateResponse(self.request, "manager/programs/ask_form.html", self.get_context_data(
            form=form, program=program, ask=ask, **ask_form_context(),
        ), status=status)

    def get(self, request, program_id: int | None = None, ask_id: int | None = None):
        program, ask = self.objects(program_id, ask_id)
        initial = AskForm.initial_for(ask, services.audience_tag_names(ask)) if ask else None
        return self.render(self.make_form(ask, initial=initial), program, ask)

    def post(self, request, program_id: int | None = None, ask_id: int | None = None):
        program, ask = self.objects(program_id, ask_id)
        form = self.make_form(ask, data=request.POST)
        if not form.is_valid():
            return self.render(form, program, ask, status=400)
        try:
            if ask is None:
                ask = services.create_ask(workspace=self.workspace, actor=request.user,
                                          data={**form.service_data(), "program": program}, tags=form.tag_names())
            else:
                ask = services.update_ask(ask=ask, actor=request.user, data=form.service_data(), tags=form.tag_names())
        except DomainError as exc:
            return self.render(form, program, ask, status=form_error(form, exc))
        messages.success(request, f"“{ask.title}” is saved.")
        return redirect("ask_detail", self.workspace.slug, ask.pk)


class AskDetailView(ProgramsView):
    def get(self, request, ask_id: int):
        ask = self.get_for_workspace(Ask, pk=ask_id)
        row = ask_rows([ask])[0]
        state = request.GET.get("state") or "all"
        if state not in dict(STATE_FILTERS):
            state = "all"
        q = search_term(request.GET)
        assignments = Assignment.objects.filter(workspace=self.workspace, ask=ask).select_related("advocate")
        if state != "all":
            assignments = assignments.filter(state__in=STATE_GROUPS[state])
        if q:
            assignments = assignments.filter(Q(advocate__email__icontains=q) | Q(advocate__name__icontains=q))
        page = Paginator(assignments.order_by("-offered_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
        holds = ContactHold.objects.filter(workspace=self.workspace, subject_type="ask", subject_id=ask.pk)
        query = urlencode({"state": state, **({"q": q} if q else {})})
        group_counts = {key: sum(row.counts.get(s, 0) for s in group) for key, group in STATE_GROUPS.items()}
        group_counts["all"] = sum(row.counts.values())
        return TemplateResponse(request, "manager/programs/ask_detail.html", self.get_context_data(
            ask=ask, program=ask.program, row=row, page=page, state=state, q=q, query=query,
            filters=[(key, label, group_counts.get(key, 0)) for key, label in STATE_FILTERS],
            holds=holds.select_related("advocate").order_by("-held_at", "-id")[:HOLDS_SHOWN], holds_total=holds.count(),
            tags=services.audience_tag_names(ask), withdrawable=_withdrawable(row.counts),
        ))


def _withdrawable(counts: dict[str, int]) -> int:
    """How many assignments closing the ask would withdraw (the sources of ``withdrawn``)."""
    return sum(counts.get(s, 0) for s in states.sources_of(S.WITHDRAWN))


class AskOfferView(ProgramsView):
    """Offer the ask by hand: search active advocates by email or name, pick one. The same
    rules as rotation hold (programs.services.offer_ask); a refusal shows its reason."""

    read_role = Role.MANAGER

    def render(self, ask, q="", error="", status=200):
        results = []
        offered: set[int] = set()
        if q:
            results = list(Advocate.objects.filter(workspace=self.workspace, stage=Stage.ACTIVE)
                           .filter(Q(email__icontains=q) | Q(name__icontains=q)).order_by("email", "id")[:OFFER_SEARCH_RESULTS])
            offered = set(Assignment.objects.filter(workspace=self.workspace, ask=ask, advocate__in=results)
                          .values_list("advocate_id", flat=True))
        return TemplateResponse(self.request, "manager/programs/ask_offer.html", self.get_context_data(
            ask=ask, program=ask.program, q=q, results=results, offered=offered, error=error,
            open=ask.status == AskStatus.OPEN,
        ), status=status)

    def get(self, request, ask_id: int):
        ask = self.get_for_workspace(Ask, pk=ask_id)
        return self.render(ask, q=search_term(request.GET))

    def post(self, request, ask_id: int):
        ask = self.get_for_workspace(Ask, pk=ask_id)
        q = search_term(request.POST)
        raw = request.POST.get("advocate") or ""
        advocate = Advocate.objects.filter(workspace=self.workspace, pk=int(raw)).first() if raw.isascii() and raw.isdigit() and len(raw) < 12 else None
        if advocate is None:
            return self.render(ask, q=q, error="Choose an advocate of this workspace to offer the ask to.", status=400)
        try:
            services.offer_ask(ask=ask, advocate=advocate, actor=request.user)
        except DomainError as exc:
            return self.render(ask, q=q or advocate.email, error=exc.message, status=status_of(exc))
        messages.success(request, f"“{ask.title}” was offered to {advocate.display_name}; they have an email.")
        if request.POST.get("next") == "advocate":
            return redirect("advocate_detail", self.workspace.slug, advocate.pk)
        return redirect("ask_detail", self.workspace.slug, ask.pk)


class AskStatusView(ProgramsView):
    """GET: the confirmation page of closing or opening an ask. POST: do it."""

    ACTIONS = ("close", "open")

    def setup_action(self, ask_id, action):
        if action not in self.ACTIONS:
            raise Http404("No such action.")
        return self.get_for_workspace(Ask, pk=ask_id)

    def render(self, ask, action, form=None, error="", status=200):
        counts = services.ask_counts([ask]).get(ask.pk, {})
        return TemplateResponse(self.request, "manager/programs/ask_status.html", self.get_context_data(
            ask=ask, program=ask.program, action=action, form=form or ReasonForm(), error=error,
            withdrawable=_withdrawable(counts), offered=counts.get(S.OFFERED, 0), accepted=counts.get(S.ACCEPTED, 0),
            submitted=counts.get(S.SUBMITTED, 0),
            allowed=(ask.status != AskStatus.CLOSED) if action == "close" else (ask.status != AskStatus.OPEN),
        ), status=status)

    def get(self, request, ask_id: int, action: str):
        return self.render(self.setup_action(ask_id, action), action)

    def post(self, request, ask_id: int, action: str):
        ask = self.setup_action(ask_id, action)
        form = ReasonForm(request.POST)
        if not form.is_valid():
            return self.render(ask, action, form=form, status=400)
        try:
            if action == "close":
                if ask.status == AskStatus.CLOSED:
                    return self.render(ask, action, form=form, error="This ask is already closed.", status=409)
                reason = form.cleaned_data["reason"].strip() or "Closed by a manager"
                withdrawn = services.close_ask(ask=ask, actor=request.user, reason=reason)
                messages.success(request, f"“{ask.title}” is closed; {withdrawn} offer{'s' if withdrawn != 1 else ''} withdrawn.")
            else:
                services.reopen_ask(ask=ask, actor=request.user)
                messages.success(request, f"“{ask.title}” is open: rotation offers it from its next run.")
        except DomainError as exc:
            ask.refresh_from_db()
            return self.render(ask, action, form=form, error=exc.message, status=status_of(exc))
        return redirect("ask_detail", self.workspace.slug, ask.pk)


class AskAssignmentsExportView(ProgramsView):
    HEADER = ["id", "advocate_email", "advocate_name", "state", "source", "offered_at", "offer_expires_at", "accepted_at",
              "submitted_at", "decided_at", "reason", "proof_url", "points_credited"]

    def get(self, request, ask_id: int):
        ask = self.get_for_workspace(Ask, pk=ask_id)
        rows = Assignment.objects.filter(workspace=self.workspace, ask=ask).select_related("advocate").order_by("offered_at", "id")

        def iso(value):
            return value.isoformat() if value else ""

        def as_rows():
            for a in rows.iterator(chunk_size=2000):
                yield [a.pk, inert(a.advocate.email), inert(a.advocate.name), a.state, a.source, iso(a.offered_at),
                       iso(a.offer_expires_at), iso(a.accepted_at), iso(a.submitted_at), iso(a.decided_at), inert(a.reason),
                       inert(a.proof_url), "yes" if a.points_entry_id else ""]

        return streaming_csv(workspace=self.workspace, name=f"ask-{ask.pk}-assignments", header=self.HEADER, rows=as_rows)
