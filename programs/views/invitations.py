"""Invitations and the advocate's page actions: invite one person (a note prefilled from
what we know of them, a preview of what they will see), bulk invite the advocate list's
current filter (a confirmation with how many are invited and skipped, and why), the
invitations list (status filter, expiry, resend), and offering an ask to one advocate.
The rules are programs.invitations' and programs.services'."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from advocacy.errors import DomainError
from advocacy.models import Advocate, Role, Stage
from advocacy.queries import AdvocateFilter
from advocacy.web import search_term

from .. import invitations, services
from ..forms import InviteForm
from ..models import Ask, AskStatus, Invitation, Program
from .base import PAGE_SIZE, ProgramsView, form_error, status_of


def inviter_name(user) -> str:
    name = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return name or user.email.split("@")[0].replace(".", " ").title()


def _first_name(advocate: Advocate) -> str:
    return (advocate.name or "").split(" ")[0] or "there"


def message_template(workspace, advocate: Advocate | None = None) -> dict[str, str]:
    """A sensible starting point for the note and the three short texts, to be made personal."""
    hello = f"Hi {_first_name(advocate)}," if advocate else "Hi,"
    since = f" since {advocate.customer_since:%B %Y}" if advocate and advocate.customer_since else ""
    company = f" at {advocate.company}" if advocate and advocate.company else ""
    return {
        "note": (f"{hello}\n\nThank you for working with {workspace.name}{since}. I would love to invite you "
                 "to our advocate program: a small group of customers who share their experience, meet peers and help "
                 "shape what we build next."),
        "why_chosen": (f"You have been with us{since}{company}, and the way you use the product is exactly what other "
                       "customers want to hear about." if advocate else
                       "You are one of the customers whose experience others most want to hear about."),
        "whats_in_it": ("Early access to new features, a direct line to our product team, and points for each thing you "
                        "do, which you can spend on rewards or give to charity."),
        "what_taking_part_looks_like": ("Now and then we offer you something small: a review, a short call with a peer, "
                                        "feedback on a beta. You choose what to take on, you set how often we may ask, "
                                        "and you can pause at any time."),
    }


def preview_of(form: InviteForm, workspace) -> dict:
    """The invitation as the form now reads (posted values, or the prefilled ones)."""
    values = {k: form[k].value() for k in form.fields}
    preview = {k: str(values.get(k) or "").strip() for k in (*InviteForm.MESSAGE_FIELDS, "inviter_name")}
    raw = str(values.get("program") or "")
    program = _program(workspace, int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None
    return {"preview": preview, "preview_program": program}


def _programs(workspace):
    return list(services.open_programs(workspace).order_by("name", "id"))


def _program(workspace, program_id) -> Program | None:
    return Program.objects.filter(workspace=workspace, pk=program_id).first() if program_id else None


class AdvocateInviteView(ProgramsView):
    """Invite one advocate: a personal note with a live preview; "Preview" re-renders, "Send" sends."""

    read_role = Role.MANAGER  # a form a viewer could not submit is not shown to them

    def render(self, advocate, form, status=200):
        return TemplateResponse(self.request, "manager/programs/invite.html", self.get_context_data(
            advocate=advocate, form=form, **preview_of(form, self.workspace), refusal=invitations.invite_refusal(advocate),
            open_invitation=Invitation.objects.filter(workspace=self.workspace, advocate=advocate,
                                                      status=Invitation.Status.SENT).first(),
        ), status=status)

    def get(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        programs = _programs(self.workspace)
        program_id = request.GET.get("program")
        initial = {**message_template(self.workspace, advocate), "inviter_name": inviter_name(request.user),
                   "program": int(program_id) if program_id and program_id.isascii() and program_id.isdigit() and len(program_id) < 12 else None}
        return self.render(advocate, InviteForm(initial=initial, programs=programs))

    def post(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        form = InviteForm(request.POST, programs=_programs(self.workspace))
        if not form.is_valid():
            return self.render(advocate, form, status=400)
        if request.POST.get("action") == "preview":
            return self.render(advocate, form)
        try:
            invitations.invite_advocate(
                advocate=advocate, actor=request.user, message=form.message(), inviter_name=form.cleaned_data["inviter_name"],
                program=_program(self.workspace, form.cleaned_data["program"]),
            )
        except DomainError as exc:
            return self.render(advocate, form, status=form_error(form, exc))
        messages.success(request, f"{advocate.display_name} is invited; the link works for 14 days.")
        return redirect("advocate_detail", self.workspace.slug, advocate.pk)


class BulkInviteView(ProgramsView):
    """Invite everyone the advocate list's filter shows. GET (the list's querystring): how many
    would be invited and how many skipped, by reason, and the message. POST: send."""

    read_role = Role.MANAGER

    def people(self, query: QueryDict):
        filterset = AdvocateFilter(query or None, queryset=Advocate.objects.filter(workspace=self.workspace))
        if filterset.is_bound and not filterset.is_valid():
            return None, "Some filters were not understood; go back to the list and filter again."
        rows = list((filterset.qs if filterset.is_bound else filterset.queryset).order_by("id")[: invitations.MAX_BULK + 1])
        if len(rows) > invitations.MAX_BULK:
            return None, (f"This filter matches more than {invitations.MAX_BULK:,} people; invite at most "
                          f"{invitations.MAX_BULK:,} at a time: narrow the filter.")
        return rows, ""

    def render(self, query: QueryDict, form, status=200, error=""):
        people, problem = self.people(query)
        invitable, skipped = 0, {}
        for advocate in people or []:
            reason = invitations.invite_refusal(advocate)
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
            else:
                invitable += 1
        clean = query.copy()
        clean.pop("page", None)
        return TemplateResponse(self.request, "manager/programs/bulk_invite.html", self.get_context_data(
            form=form, **preview_of(form, self.workspace), query=clean.urlencode(), matched=len(people or []), invitable=invitable,
            skipped=sorted(skipped.items()), problem=problem, error=error,
            back=reverse("advocate_list", args=[self.workspace.slug]) + (f"?{clean.urlencode()}" if clean else ""),
        ), status=status)

    def get(self, request):
        initial = {**message_template(self.workspace), "inviter_name": inviter_name(request.user)}
        return self.render(request.GET, InviteForm(initial=initial, programs=_programs(self.workspace)))

    def post(self, request):
        query = QueryDict((request.POST.get("query") or "")[:4000])
        form = InviteForm(request.POST, programs=_programs(self.workspace))
        if not form.is_valid():
            return self.render(query, form, status=400)
        people, _ = self.people(query)
        if people is None:
            return self.render(query, form, status=400)
        try:
            result = invitations.bulk_invite(
                workspace=self.workspace, advocates=people, actor=request.user, message=form.message(),
                inviter_name=form.cleaned_data["inviter_name"], program=_program(self.workspace, form.cleaned_data["program"]),
            )
        except DomainError as exc:
            return self.render(query, form, status=form_error(form, exc))
        messages.success(request, f"Bulk invitation: {result.summary()}.")
        return redirect(reverse("invitation_list", args=[self.workspace.slug]) + "?status=open")


INVITATION_FILTERS = [("all", "All"), ("open", "Waiting"), ("expired", "Expired"), ("accepted", "Accepted"),
                      ("declined", "Declined"), ("revoked", "Replaced")]


class InvitationListView(ProgramsView):
    def get(self, request):
        status = request.GET.get("status") or "all"
        if status not in dict(INVITATION_FILTERS):
            messages.error(request, "That status filter was not understood; showing every invitation.")
            status = "all"
        rows = Invitation.objects.filter(workspace=self.workspace).select_related("advocate", "program")
        cutoff = timezone.now() - Invitation.VALID_FOR
        if status == "open":
            rows = rows.filter(status=Invitation.Status.SENT, sent_at__gt=cutoff)
        elif status == "expired":
            rows = rows.filter(status=Invitation.Status.SENT, sent_at__lte=cutoff)
        elif status != "all":
            rows = rows.filter(status=status)
        q = search_term(request.GET)
        if q:
            rows = rows.filter(Q(advocate__email__icontains=q) | Q(advocate__name__icontains=q))
        page = Paginator(rows.order_by("-sent_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
        query = urlencode({"status": status, **({"q": q} if q else {})})
        return TemplateResponse(request, "manager/programs/invitations.html", self.get_context_data(
            page=page, status=status, filters=INVITATION_FILTERS, q=q, query=query, now=timezone.now(),
        ))


class InvitationResendView(ProgramsView):
    """GET: what resending does (a new link, valid 14 days; the old one stops working). POST: resend."""

    def invitation(self, invitation_id) -> Invitation:
        return get_object_or_404(Invitation.objects.filter(workspace=self.workspace).select_related("advocate", "program"),
                                 pk=invitation_id)

    def render(self, invitation, error="", status=200):
        return TemplateResponse(self.request, "manager/programs/invitation_resend.html", self.get_context_data(
            invitation=invitation, error=error, now=timezone.now(),
        ), status=status)

    def get(self, request, invitation_id: int):
        return self.render(self.invitation(invitation_id))

    def post(self, request, invitation_id: int):
        invitation = self.invitation(invitation_id)
        try:
            invitations.resend_invitation(invitation=invitation, actor=request.user)
        except DomainError as exc:
            return self.render(self.invitation(invitation_id), error=exc.message, status=status_of(exc))
        messages.success(request, f"The invitation to {invitation.advocate.display_name} was sent again with a new link.")
        if request.POST.get("next") == "advocate":
            return redirect("advocate_detail", self.workspace.slug, invitation.advocate_id)
        return redirect("invitation_list", self.workspace.slug)


class AdvocateOfferView(ProgramsView):
    """Offer one of the open asks to this advocate (the same rules as rotation)."""

    read_role = Role.MANAGER

    def render(self, advocate, error="", chosen=None, status=200):
        asks = list(Ask.objects.filter(workspace=self.workspace, status=AskStatus.OPEN).select_related("program")
                    .order_by("program__name", "title", "id")[:500])
        offered = set(advocate.assignments.filter(workspace=self.workspace).values_list("ask_id", flat=True))
        return TemplateResponse(self.request, "manager/programs/advocate_offer.html", self.get_context_data(
            advocate=advocate, asks=asks, offered=offered, error=error, chosen=chosen, active=advocate.stage == Stage.ACTIVE,
        ), status=status)

    def get(self, request, advocate_id: int):
        return self.render(self.get_for_workspace(Advocate, pk=advocate_id))

    def post(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        raw = request.POST.get("ask") or ""
        ask = Ask.objects.filter(workspace=self.workspace, pk=int(raw)).first() if raw.isascii() and raw.isdigit() and len(raw) < 12 else None
        if ask is None:
            return self.render(advocate, error="Choose one of the open asks.", status=400)
        try:
            services.offer_ask(ask=ask, advocate=advocate, actor=request.user)
        except DomainError as exc:
            return self.render(advocate, error=exc.message, chosen=ask.pk, status=status_of(exc))
        messages.success(request, f"“{ask.title}” was offered to {advocate.display_name}; they have an email.")
        return redirect("advocate_detail", self.workspace.slug, advocate.pk)
