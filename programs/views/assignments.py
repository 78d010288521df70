"""Assignments: the approval queue (submitted proof, oldest first), one assignment's page
(timeline, proof, outcomes, the actions its state allows), approve / reject with a reason /
withdraw, the proof file (served only to the workspace's staff: MEDIA is never public),
and recording and editing outcomes. Every rule is programs.services'; an illegal
transition comes back as its message with a 409."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from advocacy.errors import DomainError
from advocacy.models import Role

from .. import services, states
from ..forms import OutcomeForm, ReasonForm
from ..models import Assignment, AssignmentState, Outcome
from .base import PAGE_SIZE, ProgramsView, form_error, status_of

S = AssignmentState
# What a manager may do to an assignment, by the state it moves to (programs/states.py
# says from which states).
MANAGER_ACTIONS = {"approve": S.APPROVED, "reject": S.REJECTED, "withdraw": S.WITHDRAWN}


def _assignment(workspace, pk) -> Assignment:
    """One assignment of this workspace with what its pages show; 404 for another's id."""
    return get_object_or_404(
        Assignment.objects.filter(workspace=workspace).select_related("ask", "ask__program", "advocate", "decided_by", "offered_by"),
        pk=pk,
    )


RECENTLY_APPROVED = 10


class ApprovalQueueView(ProgramsView):
    def get(self, request):
        page = Paginator(services.approval_queue(self.workspace), PAGE_SIZE).get_page(request.GET.get("page"))
        # Where a manager goes next: recording what an approval achieved (a deal, a review).
        recent = (Assignment.objects.filter(workspace=self.workspace, state=AssignmentState.APPROVED)
                  .select_related("ask", "advocate").order_by("-decided_at", "-id")[:RECENTLY_APPROVED])
        return TemplateResponse(request, "manager/programs/approvals.html", self.get_context_data(page=page, recent=recent))


@dataclass(frozen=True)
class Step:
    at: datetime
    title: str
    detail: str = ""
    kind: str = "change"


def assignment_timeline(a: Assignment, outcomes) -> list[Step]:
    """The states the assignment went through, from its timestamps, oldest first."""
    how = f"by hand by {a.offered_by.email}" if a.source == Assignment.Source.MANUAL and a.offered_by else (
        "by hand" if a.source == Assignment.Source.MANUAL else "by rotation")
    steps = [Step(a.offered_at, "Offered", f"{how}; the offer runs until {a.offer_expires_at:%d %b %Y %H:%M}", "event")]
    if a.reminded_at:
        steps.append(Step(a.reminded_at, "Reminder sent"))
    if a.accepted_at:
        steps.append(Step(a.accepted_at, "Accepted", kind="event"))
    if a.submitted_at:
        steps.append(Step(a.submitted_at, "Proof submitted", kind="event"))
    if a.decided_at and a.state in states.FINAL:
        detail = " · ".join(p for p in (f"by {a.decided_by.email}" if a.decided_by else "", a.reason) if p)
        steps.append(Step(a.decided_at, a.get_state_display(), detail, "event"))
    steps += [Step(o.created_at, "Outcome recorded", services.describe_outcome(o)) for o in outcomes]
    return sorted(steps, key=lambda s: s.at)


def render_assignment(view: ProgramsView, a: Assignment, outcome_form=None, status=200) -> TemplateResponse:
    outcomes = list(Outcome.objects.filter(workspace=view.workspace, assignment=a).order_by("-created_at", "-id"))
    actions = [verb for verb, target in MANAGER_ACTIONS.items() if states.can_move(a.state, target)]
    return TemplateResponse(view.request, "manager/programs/assignment.html", view.get_context_data(
        a=a, ask=a.ask, program=a.ask.program, outcomes=outcomes, actions=actions,
        timeline=assignment_timeline(a, outcomes), proof_name=os.path.basename(a.proof_file.name) if a.proof_file else "",
        outcome_form=outcome_form or OutcomeForm(), can_record=a.state == S.APPROVED,
    ), status=status)


class AssignmentDetailView(ProgramsView):
    def get(self, request, assignment_id: int):
        return render_assignment(self, _assignment(self.workspace, assignment_id))


class AssignmentActionView(ProgramsView):
    """GET: the confirmation page of approve, reject (with its reason) or withdraw. POST: do it."""

    def setup_action(self, assignment_id, action) -> Assignment:
        if action not in MANAGER_ACTIONS:
            raise Http404("No such action.")
        return _assignment(self.workspace, assignment_id)

    def render(self, a, action, text="", error="", status=200):
        return TemplateResponse(self.request, "manager/programs/assignment_action.html", self.get_context_data(
            a=a, action=action, text=text, error=error, allowed=states.can_move(a.state, MANAGER_ACTIONS[action]),
            refusal="" if states.can_move(a.state, MANAGER_ACTIONS[action]) else states.refusal(a.state, MANAGER_ACTIONS[action]),
        ), status=status)

    def get(self, request, assignment_id: int, action: str):
        return self.render(self.setup_action(assignment_id, action), action)

    def post(self, request, assignment_id: int, action: str):
        a = self.setup_action(assignment_id, action)
        form = ReasonForm(request.POST)
        if not form.is_valid():
            return self.render(a, action, error=" ".join(form.errors.get("reason", ["The reason was not understood."])), status=400)
        text = form.cleaned_data["reason"]
        try:
            if action == "approve":
                a = services.approve_assignment(assignment=a, actor=request.user)
                done = "approved" + (f"; {a.ask.points:,} points credited" if a.ask.points else "")
            elif action == "reject":
                a = services.reject_assignment(assignment=a, actor=request.user, reason=text)
                done = "rejected; the advocate sees your reason"
            else:
                a = services.withdraw_assignment(assignment=a, actor=request.user, reason=text.strip() or "Withdrawn by a manager")
                done = "withdrawn"
        except DomainError as exc:
            a = _assignment(self.workspace, a.pk)
            return self.render(a, action, text=text, error=exc.message, status=status_of(exc))
        messages.success(request, f"“{a.ask.title}” for {a.advocate.display_name}: {done}.")
        if request.POST.get("next") == "queue":
            return redirect("approval_queue", self.workspace.slug)
        return redirect("assignment_detail", self.workspace.slug, a.pk)


class AssignmentProofView(ProgramsView):
    """The proof file, downloaded through the workspace's page (never a public MEDIA URL)."""

    def get(self, request, assignment_id: int):
        a = self.get_for_workspace(Assignment, pk=assignment_id)
        if not a.proof_file:
            raise Http404("This assignment has no proof file.")
        try:
            handle = a.proof_file.open("rb")
        except (FileNotFoundError, OSError):
            raise Http404("The proof file is missing.") from None
        ext = os.path.splitext(a.proof_file.name)[1].lower()
        response = FileResponse(handle, as_attachment=True, filename=os.path.basename(a.proof_file.name),
                                content_type=services.PROOF_TYPES.get(ext, "application/octet-stream"))
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class OutcomeCreateView(ProgramsView):
    """Record what an approved assignment achieved (the form is on the assignment's page)."""

    def post(self, request, assignment_id: int):
        a = _assignment(self.workspace, assignment_id)
        form = OutcomeForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                outcome = services.record_outcome(assignment=a, actor=request.user, data=form.service_data())
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, f"Outcome recorded: {services.describe_outcome(outcome)}. {a.advocate.display_name} is told.")
                return redirect(reverse("assignment_detail", args=[self.workspace.slug, a.pk]) + "#outcomes")
        return render_assignment(self, a, outcome_form=form, status=status)


class OutcomeEditView(ProgramsView):
    read_role = Role.MANAGER  # a form a viewer could not submit is not shown to them

    def render(self, outcome, form, status=200):
        return TemplateResponse(self.request, "manager/programs/outcome_form.html", self.get_context_data(
            outcome=outcome, a=outcome.assignment, form=form,
        ), status=status)

    def outcome(self, outcome_id) -> Outcome:
        return get_object_or_404(Outcome.objects.filter(workspace=self.workspace).select_related(
            "assignment__ask", "assignment__advocate"), pk=outcome_id)

    def get(self, request, outcome_id: int):
        outcome = self.outcome(outcome_id)
        return self.render(outcome, OutcomeForm(initial={f: getattr(outcome, f) for f in OutcomeForm.FIELDS}))

    def post(self, request, outcome_id: int):
        outcome = self.outcome(outcome_id)
        form = OutcomeForm(request.POST)
        if form.is_valid():
            try:
                outcome = services.update_outcome(outcome=outcome, actor=request.user, data=form.service_data())
            except DomainError as exc:
                return self.render(outcome, form, status=form_error(form, exc))
            messages.success(request, f"Outcome saved: {services.describe_outcome(outcome)}.")
            return redirect(reverse("assignment_detail", args=[self.workspace.slug, outcome.assignment_id]) + "#outcomes")
        return self.render(outcome, form, status=400)
