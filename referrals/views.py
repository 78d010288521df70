"""Manager pages of referrals at /w/<slug>/referrals/: the pipeline (the funnel over a
period, the referrals filtered by state, flag, program and email, CSV export), each
referral with its flags and the actions on it (approve a flagged one, qualify, reject
with a reason), and each program's referral settings with its coupon pool. The rules live
in referrals/services.py (and codes.py for the settings); reads in referrals/queries.py."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from advocacy.errors import DomainError
from advocacy.exports import inert, streaming_csv
from advocacy.models import Role
from advocacy.web import ManagerView
from programs.models import Program

from . import queries, services
from .codes import update_referral_settings
from .forms import (
    PERIODS,
    SETTINGS_FIELDS,
    CouponUploadForm,
    PipelineFilterForm,
    ReferralSettingsForm,
    RejectForm,
)
from .models import Coupon, Referral, ReferralSettings, ReferralState

PAGE_SIZE = 50


def _filters(view: ManagerView) -> tuple[PipelineFilterForm, dict]:
    form = PipelineFilterForm(view.request.GET or None, workspace=view.workspace)
    if form.is_bound and not form.is_valid():
        messages.error(view.request, "Some filters were not understood and were ignored.")
    return form, form.values()


def _rows(view: ManagerView, values: dict):
    return queries.pipeline(view.workspace, state=values["state"], flagged=values["flagged"], program=values["program"],
                            q=values["q"], since=values["since"], until=values["until"])


class PipelineView(ManagerView):
    """The funnel of the period and the referrals, newest first."""

    def get(self, request):
        form, values = _filters(self)
        stats = queries.funnel(self.workspace, program=values["program"], since=values["since"], until=values["until"])
        page = Paginator(_rows(self, values), PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return TemplateResponse(request, "manager/referrals/pipeline.html", self.get_context_data(
            form=form, values=values, stats=stats, page=page, query=query.urlencode(), periods=PERIODS,
            states=ReferralState.choices,
        ))


class PipelineExportView(ManagerView):
    """The filtered referrals as CSV, streamed."""

    HEADER = ["id", "created_at", "program", "advocate_id", "advocate_email", "code", "referee_email", "referee_name",
              "referee_company", "state", "reason", "flags", "source", "qualified_at", "converted_at",
              "conversion_value", "conversion_currency"]

    def get(self, request):
        _, values = _filters(self)
        rows = _rows(self, values)

        def as_rows():
            for r in rows.iterator(chunk_size=2000):
                conversion = getattr(r, "conversion", None)
                yield [
                    r.pk, r.created_at.isoformat(), inert(r.program.name), r.advocate_id, inert(r.advocate.email), r.code.code,
                    inert(r.referee_email), inert(r.referee_name), inert(r.referee_company), r.state, inert(r.reason),
                    inert("; ".join(f"{f.get('rule', '')}: {f.get('reason', '')}" for f in r.flags if isinstance(f, dict))),
                    r.source, r.qualified_at.isoformat() if r.qualified_at else "",
                    r.converted_at.isoformat() if r.converted_at else "",
                    conversion.value if conversion else "", conversion.currency if conversion else "",
                ]

        return streaming_csv(workspace=self.workspace, name="referrals", header=self.HEADER, rows=as_rows)


class ReferralDetailView(ManagerView):
    def get(self, request, referral_id: int):
        referral = get_object_or_404(
            Referral.objects.filter(workspace=self.workspace).select_related("advocate", "program", "code"), pk=referral_id)
        return TemplateResponse(request, "manager/referrals/referral.html", self.get_context_data(
            r=referral, conversion=getattr(referral, "conversion", None),
            coupon=Coupon.objects.filter(workspace=self.workspace, referral=referral).first(),
            actions=queries.available_actions(referral) if self.membership.has_role(Role.MANAGER) else [],
        ))


class ReferralActionView(ManagerView):
    """GET: the confirmation of an action (reject asks for a reason). POST: do it."""

    ACTIONS = ("approve", "qualify", "reject")

    def referral(self, referral_id: int, action: str) -> Referral:
        if action not in self.ACTIONS:
            raise Http404("No such action.")
        return self.get_for_workspace(Referral, pk=referral_id)

    def render(self, referral, action, form=None, error="", status=200):
        return TemplateResponse(self.request, "manager/referrals/action.html", self.get_context_data(
            r=referral, action=action, form=form or RejectForm(), error=error,
            allowed=action in queries.available_actions(referral),
        ), status=status)

    def get(self, request, referral_id: int, action: str):
        return self.render(self.referral(referral_id, action), action)

    def post(self, request, referral_id: int, action: str):
        referral = self.referral(referral_id, action)
        form = RejectForm(request.POST) if action == "reject" else None
        if form is not None and not form.is_valid():
            return self.render(referral, action, form=form, status=400)
        try:
            if action == "approve":
                services.clear_flags(referral=referral, actor=request.user, note=(request.POST.get("note") or "")[:300])
            elif action == "qualify":
                services.qualify_referral(referral=referral, actor=request.user)
            else:
                services.reject_referral(referral=referral, actor=request.user, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            referral.refresh_from_db()
            return self.render(referral, action, form=form, error=exc.message, status=exc.status)
        done = {"approve": "approved: its flags are cleared", "qualify": "qualified", "reject": "rejected"}[action]
        messages.success(request, f"Referral of {referral.referee_email} {done}.")
        return redirect("referral_detail", self.workspace.slug, referral.pk)


class ProgramSettingsListView(ManagerView):
    """Every program with its referral settings and the free codes of its coupon pool."""

    def get(self, request):
        programs = list(Program.objects.filter(workspace=self.workspace).order_by("name", "id"))
        settings = {s.program_id: s for s in ReferralSettings.objects.filter(workspace=self.workspace)}
        free = queries.free_coupons(self.workspace)
        rows = [{"program": p, "settings": settings.get(p.pk) or ReferralSettings(program=p), "free": free.get(p.pk, 0)}
                for p in programs]
        return TemplateResponse(request, "manager/referrals/programs.html", self.get_context_data(rows=rows))


class ProgramSettingsView(ManagerView):
    """One program's referral settings and its coupon pool (counts and the upload)."""

    def program(self, program_id: int) -> Program:
        return self.get_for_workspace(Program, pk=program_id)

    def render(self, program, form=None, upload=None, report=None, status=200):
        current = ReferralSettings.objects.filter(workspace=self.workspace, program=program).first() or ReferralSettings(program=program)
        free = Coupon.objects.filter(workspace=self.workspace, program=program, referral__isnull=True).count()
        used = Coupon.objects.filter(workspace=self.workspace, program=program, referral__isnull=False).count()
        return TemplateResponse(self.request, "manager/referrals/program_settings.html", self.get_context_data(
            program=program, settings=current, form=form or ReferralSettingsForm(instance=current),
            upload=upload or CouponUploadForm(), free=free, used=used, report=report,
            can_change=self.membership.has_role(Role.MANAGER),
        ), status=status)

    def get(self, request, program_id: int):
        return self.render(self.program(program_id))

    def post(self, request, program_id: int):
        program = self.program(program_id)
        current = ReferralSettings.objects.filter(workspace=self.workspace, program=program).first() or ReferralSettings(program=program)
        form = ReferralSettingsForm(request.POST, instance=current)
        if form.is_valid():
            try:
                update_referral_settings(program=program, actor=request.user,
                                         changes={f: form.cleaned_data[f] for f in SETTINGS_FIELDS})
            except DomainError as exc:
                for name, errors in (exc.fields or {}).items():
                    form.add_error(name if name in form.fields else None, errors)
                if not exc.fields:
                    form.add_error(None, exc.message)
            else:
                messages.success(request, f"Referral settings of “{program.name}” saved.")
                return redirect("referral_program_settings", self.workspace.slug, program.pk)
        return self.render(program, form=form, status=400)


class CouponUploadView(ProgramSettingsView):
    """GET: the program's settings page (as ``referral_program_settings``). POST: add codes to the program's pool; blank lines, bad codes, repeats and codes
    already in the pool are reported by line number and left out."""

    def post(self, request, program_id: int):
        program = self.program(program_id)
        upload = CouponUploadForm(request.POST, request.FILES)
        if not upload.is_valid():
            return self.render(program, upload=upload, status=400)
        parsed = upload.cleaned_data["parsed"]
        existing = set(Coupon.objects.filter(workspace=self.workspace, program=program, code__in=parsed.codes)
                       .values_list("code", flat=True))
        problems = list(parsed.problems)
        problems += [f"Line {parsed.lines[c]} is already in the pool ({c})." for c in parsed.codes if c in existing]
        fresh = [c for c in parsed.codes if c not in existing]
        added = 0
        if fresh:
            try:
                added = services.add_coupons(program=program, codes=fresh, actor=request.user)
            except DomainError as exc:
                upload.add_error(None, exc.message)
                return self.render(program, upload=upload, status=exc.status)
        problems.sort(key=lambda text: int(text.split()[1]))
        report = {"added": added, "problems": problems}
        if problems:
            messages.warning(request, f"{added} code{'s' if added != 1 else ''} added; {len(problems)} line"
                                      f"{'s' if len(problems) != 1 else ''} left out (see below).")
        else:
            messages.success(request, f"{added} code{'s' if added != 1 else ''} added to the pool.")
        return self.render(program, report=report, status=200)
