"""The advocate's pages of the journey: offers, proof, impact, onboarding; and the public
invitation page.

Every page fetches the signed-in advocate's own assignments only (another advocate's or
another workspace's id is a 404), every action goes through ``programs.services`` or
``programs.invitations``, and a refusal re-renders the page with the service's message and
its status (400 or 409), never a 500. The invitation link changes nothing on GET: mail
scanners open links.
"""

from __future__ import annotations

import os
from datetime import datetime

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views import View

from advocacy.errors import DomainError
from advocacy.models import Advocate
from advocacy.scoping import workspace_scope
from advocacy.web import PortalView

from . import states
from .invitations import (
    accept_invitation,
    complete_onboarding,
    decline_invitation,
    find_invitation,
    pending_onboarding,
)
from .models import Assignment, AssignmentState, Invitation, Outcome
from .services import (
    MAX_PROOF_BYTES,
    PROOF_TYPES,
    accept_assignment,
    decline_assignment,
    lapse_reason,
    submit_proof,
)

S = AssignmentState
PAGE_SIZE = 20
FEED_SIZE = 100


def proof_limits() -> dict:
    """What the proof form tells the advocate (the service enforces it)."""
    return {
        "types": ", ".join(sorted({ext.lstrip(".").upper() for ext in PROOF_TYPES})),
        "max_mb": MAX_PROOF_BYTES // 1024 // 1024,
        "accept": ",".join(sorted(PROOF_TYPES)),
    }


def lapsed(assignment: Assignment, now: datetime) -> bool:
    """Shown as expired, without buttons, before the expiry job reaches it (the rule is
    programs.services.lapse_reason; the service refuses an answer anyway)."""
    return lapse_reason(assignment, now) is not None


def home_context(advocate: Advocate) -> dict:
    """What the portal home shows of the journey: open offers, onboarding still to do and
    the latest impact (three small queries)."""
    now = timezone.now()
    return {
        "open_offers": Assignment.objects.filter(
            workspace_id=advocate.workspace_id, advocate=advocate, state=S.OFFERED, offer_expires_at__gt=now,
        ).filter(Q(ask__deadline__isnull=True) | Q(ask__deadline__gt=now)).count(),  # not lapsed (lapse_reason)
        "pending_onboarding": pending_onboarding(advocate),
        "latest_outcome": Outcome.objects.filter(workspace_id=advocate.workspace_id, advocate=advocate)
        .select_related("assignment__ask").order_by("-created_at", "-id").first(),
    }


class ProofForm(forms.Form):
    # The service checks the link, the lengths and the file; the form only collects them.
    proof_url = forms.CharField(
        label="Link", required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://", "inputmode": "url", "autocomplete": "url"}),
        help_text="Where we can see it, e.g. your published review.",
    )
    proof_text = forms.CharField(label="A few words", required=False, widget=forms.Textarea(attrs={"rows": 4}))
    proof_file = forms.FileField(label="Or a file", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limits = proof_limits()
        self.fields["proof_file"].widget.attrs["accept"] = limits["accept"]
        self.fields["proof_file"].help_text = f"{limits['types']}; at most {limits['max_mb']} MB."


# --- The advocate's asks ------------------------------------------------------------------


class AssignmentPortalView(PortalView):
    """A page about one of the signed-in advocate's assignments."""

    def assignment(self, assignment_id: int) -> Assignment:
        return get_object_or_404(
            Assignment.objects.filter(workspace=self.workspace, advocate=self.advocate).select_related("ask", "program"),
            pk=assignment_id,
        )

    def fresh(self, assignment: Assignment) -> Assignment:
        """The assignment as it is now (after a refusal its state may have moved)."""
        return self.assignment(assignment.pk)

    def render_detail(self, assignment: Assignment, *, error: str = "", status: int = 200) -> TemplateResponse:
        a = assignment
        return TemplateResponse(self.request, "portal/programs/assignment.html", self.get_context_data(
            a=a, error=error, lapsed=lapsed(a, timezone.now()),
            can_accept=states.can_move(a.state, S.ACCEPTED), can_decline=states.can_move(a.state, S.DECLINED),
            can_submit=states.can_move(a.state, S.SUBMITTED), proof_name=os.path.basename(a.proof_file.name or ""),
            outcomes=list(Outcome.objects.filter(workspace=self.workspace, assignment=a).order_by("-created_at", "-id")),
        ), status=status)


class PortalAsksView(PortalView):
    """Open offers (accept or decline), work in progress (submit proof), proof under review,
    and the history with points, thanks and reasons."""

    def get(self, request):
        now = timezone.now()
        mine = Assignment.objects.filter(workspace=self.workspace, advocate=self.advocate).select_related("ask", "program")
        current = list(mine.filter(state__in=[S.OFFERED, S.ACCEPTED, S.SUBMITTED]).order_by("offer_expires_at", "id"))
        for a in current:
            a.lapsed = lapsed(a, now)
        history = Paginator(mine.filter(state__in=states.FINAL).order_by("-decided_at", "-id"), PAGE_SIZE).get_page(
            request.GET.get("page"))
        return TemplateResponse(request, "portal/programs/asks.html", self.get_context_data(
            offers=[a for a in current if a.state == S.OFFERED],
            in_progress=[a for a in current if a.state == S.ACCEPTED],
            submitted=[a for a in current if a.state == S.SUBMITTED],
            page=history, pending_onboarding=pending_onboarding(self.advocate),
        ))


class PortalAssignmentView(AssignmentPortalView):
    def get(self, request, assignment_id: int):
        return self.render_detail(self.assignment(assignment_id))


class PortalAcceptView(AssignmentPortalView):
    def post(self, request, assignment_id: int):
        a = self.assignment(assignment_id)
        try:
            accept_assignment(assignment=a, actor=request.user, advocate=self.advocate)
        except DomainError as exc:
            return self.render_detail(self.fresh(a), error=exc.message, status=exc.status)
        messages.success(request, f"Thank you for taking on “{a.ask.title}”. Submit your proof here when it is done.")
        return redirect("portal_assignment", self.workspace.slug, a.pk)


class PortalDeclineView(AssignmentPortalView):
    """GET: a small confirmation with an optional reason. POST: decline."""

    def render(self, a: Assignment, *, reason: str = "", error: str = "", status: int = 200):
        return TemplateResponse(self.request, "portal/programs/decline.html", self.get_context_data(
            a=a, reason=reason, error=error, can_decline=states.can_move(a.state, S.DECLINED),
        ), status=status)

    def get(self, request, assignment_id: int):
        return self.render(self.assignment(assignment_id))

    def post(self, request, assignment_id: int):
        a = self.assignment(assignment_id)
        reason = request.POST.get("reason", "")
        try:
            decline_assignment(assignment=a, actor=request.user, reason=reason, advocate=self.advocate)
        except DomainError as exc:
            return self.render(self.fresh(a), reason=reason, error=exc.message, status=exc.status)
        messages.success(request, f"You declined “{a.ask.title}”. Thanks for letting us know.")
        return redirect("portal_asks", self.workspace.slug)


class PortalProofView(AssignmentPortalView):
    """GET: the proof form (a link, a few words or a file). POST: submit it."""

    def render(self, a: Assignment, form: ProofForm, *, error: str = "", status: int = 200):
        return TemplateResponse(self.request, "portal/programs/proof.html", self.get_context_data(
            a=a, form=form, error=error, limits=proof_limits(), lapsed=lapsed(a, timezone.now()),
            can_submit=states.can_move(a.state, S.SUBMITTED),
        ), status=status)

    def get(self, request, assignment_id: int):
        return self.render(self.assignment(assignment_id), ProofForm())

    def post(self, request, assignment_id: int):
        a = self.assignment(assignment_id)
        form = ProofForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render(a, form, status=400)
        data = form.cleaned_data
        try:
            fresh = submit_proof(assignment=a, actor=request.user, advocate=self.advocate, url=data["proof_url"],
                                 text=data["proof_text"], upload=data["proof_file"])
        except DomainError as exc:
            return self.render(self.fresh(a), form, error=exc.message, status=exc.status)
        if fresh.state == S.APPROVED:
            messages.success(request, f"Thank you! {fresh.ask.points:,} points are yours." if fresh.ask.points else "Thank you!")
        else:
            messages.success(request, "Thank you! Your proof is with the program team; we will let you know.")
        return redirect("portal_assignment", self.workspace.slug, a.pk)


# --- Onboarding --------------------------------------------------------------------------


class PortalOnboardingView(PortalView):
    """The steps a program asks for before the first ask, as checkboxes."""

    def render(self, *, error: str = "", error_program: int | None = None, checked=(), status: int = 200):
        return TemplateResponse(self.request, "portal/programs/onboarding.html", self.get_context_data(
            enrollments=pending_onboarding(self.advocate), error=error, error_program=error_program, checked=list(checked),
        ), status=status)

    def get(self, request):
        return self.render()

    def post(self, request):
        program_id = request.POST.get("program", "")
        enrollment = next((e for e in pending_onboarding(self.advocate) if str(e.program_id) == program_id), None)
        if enrollment is None:
            raise Http404("No onboarding to finish for this program.")
        steps = request.POST.getlist("steps")
        try:
            complete_onboarding(advocate=self.advocate, program=enrollment.program, steps_done=steps)
        except DomainError as exc:
            return self.render(error=exc.message, error_program=enrollment.program_id, checked=steps, status=exc.status)
        messages.success(request, f"You are all set for {enrollment.program.name}.")
        if pending_onboarding(self.advocate):
            return redirect("portal_onboarding", self.workspace.slug)
        return redirect("portal_asks", self.workspace.slug)


# --- Impact ------------------------------------------------------------------------------


class PortalImpactView(PortalView):
    """What the advocate's help achieved, newest first: outcomes recorded by the team, and
    each approval with its points and thanks."""

    def get(self, request):
        outcomes = list(Outcome.objects.filter(workspace=self.workspace, advocate=self.advocate)
                        .select_related("assignment__ask").order_by("-created_at", "-id")[:FEED_SIZE])
        approvals = list(Assignment.objects.filter(workspace=self.workspace, advocate=self.advocate, state=S.APPROVED)
                         .select_related("ask").order_by("-decided_at", "-id")[:FEED_SIZE])
        feed = [{"at": o.created_at, "outcome": o} for o in outcomes]
        feed += [{"at": a.decided_at or a.submitted_at or a.offered_at, "approval": a} for a in approvals]
        feed.sort(key=lambda item: item["at"], reverse=True)
        page = Paginator(feed, PAGE_SIZE).get_page(request.GET.get("page"))
        return TemplateResponse(request, "portal/programs/impact.html", self.get_context_data(page=page))


# --- The public invitation page ----------------------------------------------------------


class InvitationView(View):
    """``/i/<token>/``: the personal invitation and one button. GET shows it (and changes
    nothing); POST ``answer=join`` accepts it, ``answer=decline`` declines it. After joining
    the page offers the portal's sign-in with their email filled in, then their asks (or
    onboarding first)."""

    def unknown(self) -> HttpResponse:
        """A link that names no invitation (mistyped, cut short, or replaced by a resend)."""
        return TemplateResponse(self.request, "public/invitation.html", {"state": "unknown"}, status=404).render()

    def next_url(self, invitation: Invitation) -> str:
        slug = invitation.workspace.slug
        if pending_onboarding(invitation.advocate):
            return reverse("portal_onboarding", args=[slug])
        return reverse("portal_asks", args=[slug])

    def render(self, invitation: Invitation, *, error: str = "", status: int | None = None) -> HttpResponse:
        if invitation.status == Invitation.Status.ACCEPTED:
            state = "accepted"
        elif invitation.status == Invitation.Status.DECLINED:
            state = "declined"
        elif invitation.is_open:
            state = "open"
        else:
            state = "closed"  # expired, or replaced by a newer link
        context = {"invitation": invitation, "workspace": invitation.workspace, "state": state, "error": error,
                   "advocate": invitation.advocate, "program": invitation.program}
        if state == "accepted":
            context["next_url"] = self.next_url(invitation)
            context["login_url"] = reverse("portal_login", args=[invitation.workspace.slug])
        if state == "open" and invitation.program is not None:
            context["steps"] = invitation.program.onboarding_steps
        response = TemplateResponse(self.request, "public/invitation.html", context,
                                    status=status or (410 if state == "closed" else 200))
        return response.render()

    def get(self, request, token: str):
        invitation = find_invitation(token)
        if invitation is None:
            return self.unknown()
        with workspace_scope(invitation.workspace):
            return self.render(invitation)

    def post(self, request, token: str):
        invitation = find_invitation(token)
        if invitation is None:
            return self.unknown()
        with workspace_scope(invitation.workspace):
            try:
                if request.POST.get("answer") == "decline":
                    invitation = decline_invitation(invitation=invitation)
                else:
                    invitation = accept_invitation(invitation=invitation)
            except DomainError as exc:
                return self.render(find_invitation(token) or invitation, error=exc.message, status=exc.status)
            if invitation.status == Invitation.Status.ACCEPTED:
                advocate = invitation.advocate
                if request.user.is_authenticated and advocate.user_id == request.user.pk:
                    return redirect(self.next_url(invitation))
            return redirect("invitation", token)


urls: list = [
    path("asks/", PortalAsksView.as_view(), name="portal_asks"),
    path("asks/<int:assignment_id>/", PortalAssignmentView.as_view(), name="portal_assignment"),
    path("asks/<int:assignment_id>/accept/", PortalAcceptView.as_view(), name="portal_assignment_accept"),
    path("asks/<int:assignment_id>/decline/", PortalDeclineView.as_view(), name="portal_assignment_decline"),
    path("asks/<int:assignment_id>/proof/", PortalProofView.as_view(), name="portal_assignment_proof"),
    path("onboarding/", PortalOnboardingView.as_view(), name="portal_onboarding"),
    path("impact/", PortalImpactView.as_view(), name="portal_impact"),
]
public_urls: list = [
    path("i/<str:token>/", InvitationView.as_view(), name="invitation"),
]
