"""The member portal under /portal/<slug>/: sign-in by emailed code, home, profile,
preferences, pause, leave, data export and erasure. Later parts add their sections
(asks, referrals, rewards, impact) to the navigation in templates/portal/base.html."""

from __future__ import annotations

import json
from urllib.parse import quote

from allauth.account.internal.flows.login_by_code import LoginCodeVerificationProcess
from allauth.core import ratelimit
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from .errors import DomainError
from .forms import PortalLoginForm, PreferencesForm
from .models import Advocate, Stage
from .services import advocates as advocate_services
from .services.workspaces import get_or_create_user
from .web import PortalView


class PortalLoginView(PortalView):
    """Ask for an email; if it belongs to an advocate of this workspace, send a sign-in code."""

    allow_anonymous = True

    def next_url(self) -> str:
        target = self.request.GET.get("next") or self.request.POST.get("next") or ""
        home = reverse("portal_home", args=[self.workspace.slug])
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts=None) and target.startswith(home):
            return target
        return home

    def get(self, request):
        if self.advocate is not None:
            return redirect(self.next_url())
        return TemplateResponse(request, "portal/login.html", self.get_context_data(form=PortalLoginForm(), next=self.next_url()))

    def post(self, request):
        form = PortalLoginForm(request.POST)
        if not form.is_valid():
            return TemplateResponse(request, "portal/login.html", self.get_context_data(form=form, next=self.next_url()), status=400)
        email = form.cleaned_data["email"].strip().lower()
        # allauth's own limit on code requests ("request_login_code"), which its form applies
        # and this view must too: otherwise anyone could flood an advocate with emails.
        if not ratelimit.consume(request, action="request_login_code", key=email):
            form.add_error("email", "Too many sign-in codes were asked for; wait a minute and try again.")
            return TemplateResponse(request, "portal/login.html", self.get_context_data(form=form, next=self.next_url()), status=429)
        advocate = (
            Advocate.objects.filter(email=email, erased_at__isnull=True)
            .exclude(stage=Stage.OPTED_OUT).select_related("user").first()
        )
        user = None
        if advocate is not None:
            user = advocate.user
            if user is None:
                user, _ = get_or_create_user(email)
                Advocate.objects.filter(pk=advocate.pk).update(user=user)
        # With no such advocate the same page follows (and allauth sends no code), so the
        # form does not reveal who is an advocate.
        LoginCodeVerificationProcess.initiate(request=request, user=user, email=email)
        return redirect(f"{reverse('account_confirm_login_code')}?next={quote(self.next_url())}")


class PortalHomeView(PortalView):
    def get(self, request):
        # The programs app adds its part (open offers, onboarding, impact) with a template tag.
        return TemplateResponse(request, "portal/home.html", self.get_context_data())


class PortalProfileView(PortalView):
    def get(self, request):
        return TemplateResponse(request, "portal/profile.html", self.get_context_data(tags=self.advocate.tags.all()))


class PortalPreferencesView(PortalView):
    def initial(self) -> dict:
        a = self.advocate
        return {
            "max_asks_per_month": a.max_asks_per_month, "channels": a.channels,
            "preferred_ask_kinds": a.preferred_ask_kinds, "show_on_leaderboards": a.show_on_leaderboards,
        }

    def get(self, request):
        return TemplateResponse(request, "portal/preferences.html", self.get_context_data(form=PreferencesForm(initial=self.initial())))

    def post(self, request):
        form = PreferencesForm(request.POST)
        if form.is_valid():
            try:
                advocate_services.update_preferences(advocate=self.advocate, data=form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Your preferences are saved.")
                return redirect("portal_preferences", self.workspace.slug)
        return TemplateResponse(request, "portal/preferences.html", self.get_context_data(form=form), status=400)


class PortalStageView(PortalView):
    """Pause, resume or leave: each confirmed on its own page."""

    actions = {
        "pause": (advocate_services.pause_self, "You are paused: no new asks until you resume."),
        "resume": (advocate_services.resume_self, "Welcome back: you will receive asks again."),
        "leave": (advocate_services.leave_program, "You have left the program. We will not contact you again."),
    }

    def get(self, request, action: str):
        return TemplateResponse(request, "portal/confirm_stage.html", self.get_context_data(action=action))

    def post(self, request, action: str):
        service, done = self.actions[action]
        try:
            service(advocate=self.advocate)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done)
        return redirect("portal_preferences", self.workspace.slug)


class PortalDataExportView(PortalView):
    def get(self, request):
        data = advocate_services.export_advocate_data(self.advocate)
        response = HttpResponse(json.dumps(data, indent=2, default=str), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="my-data.json"'
        return response


class PortalEraseView(PortalView):
    def get(self, request):
        return TemplateResponse(request, "portal/erase.html", self.get_context_data())

    def post(self, request):
        if request.POST.get("confirm") != "erase":
            messages.error(request, "Type “erase” to confirm.")
            return redirect("portal_erase", self.workspace.slug)
        advocate_services.erase_advocate(advocate=self.advocate, actor=self.advocate.user)
        logout(request)
        return TemplateResponse(request, "portal/erased.html", {"workspace": self.workspace})
