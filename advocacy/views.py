"""Manager pages under /w/<slug>/: home, advocates, import/export, settings, team, API keys."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import slugify
from django.views import View

from .errors import DomainError
from .exports import inert, streaming_csv
from .forms import (
    AdvocateForm,
    ApiKeyForm,
    BulkTagForm,
    ImportUploadForm,
    NewWorkspaceForm,
    RoleForm,
    StaffInviteForm,
    StageForm,
    WorkspaceSettingsForm,
)
from .models import (
    ActivityEvent,
    Advocate,
    ApiKey,
    AuditLog,
    ImportJob,
    ImportStatus,
    Membership,
    Role,
    StaffInvitation,
    Stage,
    Tag,
)
from .queries import AdvocateFilter, advocate_list, advocate_timeline
from .services import advocates as advocate_services
from .services import imports as import_services
from .services import workspaces as workspace_services
from .web import ManagerView

PAGE_SIZE = 50


class WorkspaceIndexView(LoginRequiredMixin, View):
    """/w/: the user's workspaces; straight into the only one."""

    def get(self, request):
        memberships = list(Membership.objects.filter(user=request.user).select_related("workspace"))
        if len(memberships) == 1:
            return redirect("manager_home", memberships[0].workspace.slug)
        return render(request, "manager/workspace_index.html", {"memberships": memberships, "form": NewWorkspaceForm()})


class NewWorkspaceView(LoginRequiredMixin, View):
    def post(self, request):
        form = NewWorkspaceForm(request.POST)
        if form.is_valid():
            slug = form.cleaned_data["slug"] or slugify(form.cleaned_data["name"])[:50].strip("-")
            try:
                workspace = workspace_services.create_workspace(slug=slug, name=form.cleaned_data["name"], owner=request.user)
            except DomainError as exc:
                form.add_error("slug", exc.message)
            else:
                return redirect("manager_home", workspace.slug)
        memberships = Membership.objects.filter(user=request.user).select_related("workspace")
        return render(request, "manager/workspace_index.html", {"memberships": memberships, "form": form}, status=400)


class HomeView(ManagerView):
    def get(self, request):
        by_stage = dict(Advocate.objects.values_list("stage").annotate(n=Count("id")).order_by())
        stages = [(s, by_stage.get(s.value, 0)) for s in Stage]
        since = timezone.now() - timezone.timedelta(days=30)
        context = self.get_context_data(
            stages=stages,
            total=sum(by_stage.values()),
            events_30d=ActivityEvent.objects.filter(occurred_at__gte=since).count(),
            recent=AuditLog.objects.select_related("advocate").order_by("-created_at")[:10],
        )
        return TemplateResponse(request, "manager/home.html", context)


# --- Advocates -------------------------------------------------------------------------


class AdvocateListView(ManagerView):
    def get(self, request):
        queryset = Advocate.objects.all()
        filterset = AdvocateFilter(request.GET or None, queryset=queryset)
        if filterset.is_bound and not filterset.is_valid():
            messages.error(request, "Some filters were not understood and were ignored.")
            rows = queryset.order_by("name", "id")
        else:
            rows = filterset.qs if filterset.is_bound else queryset
            if not request.GET.get("sort"):
                rows = rows.order_by("name", "id")
        paginator = Paginator(advocate_list(rows), PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = self.get_context_data(
            filter=filterset, page=page, query=query.urlencode(),
            tags=Tag.objects.order_by("name").values_list("name", flat=True)[:200],
            bulk_form=BulkTagForm(), sort=request.GET.get("sort", "name"),
        )
        return TemplateResponse(request, "manager/advocates/list.html", context)


class AdvocateExportView(ManagerView):
    """The filtered list as CSV, streamed."""

    HEADER = ["id", "email", "name", "company", "title", "type", "external_id", "stage", "tags", "motivation",
              "expressiveness", "customer_since", "renewal_date", "score", "points_balance", "last_activity_at", "created_at"]

    def get(self, request):
        filterset = AdvocateFilter(request.GET or None, queryset=Advocate.objects.all())
        rows = filterset.qs if filterset.is_bound and filterset.is_valid() else Advocate.objects.all()
        rows = advocate_list(rows.order_by("id"))

        def as_rows():
            for a in rows.iterator(chunk_size=2000):
                yield [
                    a.pk, inert(a.email), inert(a.name), inert(a.company), inert(a.title), a.type,
                    inert(a.external_id or ""), a.stage,
                    inert(";".join(t.name for t in a.tags.all())), a.motivation, a.expressiveness,
                    a.customer_since or "", a.renewal_date or "", a.score, a.points_balance,
                    a.last_activity_at.isoformat() if a.last_activity_at else "", a.created_at.isoformat(),
                ]

        return streaming_csv(workspace=self.workspace, name="advocates", header=self.HEADER, rows=as_rows)


class AdvocateCreateView(ManagerView):
    read_role = Role.MANAGER  # a form a viewer could not submit is not shown to them

    def get(self, request):
        return TemplateResponse(request, "manager/advocates/form.html", self.get_context_data(form=AdvocateForm()))

    def post(self, request):
        form = AdvocateForm(request.POST)
        if form.is_valid():
            try:
                advocate = advocate_services.create_advocate(
                    workspace=self.workspace, actor=request.user, data=form.field_data(), tags=form.tag_names()
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"{advocate.display_name} was added.")
                return redirect("advocate_detail", self.workspace.slug, advocate.pk)
        return TemplateResponse(request, "manager/advocates/form.html", self.get_context_data(form=form), status=400)


def _form_error(form, exc: DomainError) -> None:
    placed = False
    for field, errors in (exc.fields or {}).items():
        if field in form.fields:
            for error in errors:
                form.add_error(field, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


class AdvocateDetailView(ManagerView):
    def get(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        context = self.get_context_data(
            advocate=advocate, timeline=advocate_timeline(advocate),
            next_stages=[(s, Stage(s).label) for s in advocate_services.allowed_next_stages(advocate)],
            stage_form=StageForm(),
        )
        return TemplateResponse(request, "manager/advocates/detail.html", context)


class AdvocateEditView(ManagerView):
    read_role = Role.MANAGER  # a form a viewer could not submit is not shown to them

    def get(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        return TemplateResponse(request, "manager/advocates/form.html", self.get_context_data(form=AdvocateForm(instance=advocate), advocate=advocate))

    def post(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        original = Advocate.objects.get(pk=advocate.pk)
        form = AdvocateForm(request.POST, instance=advocate)
        if form.is_valid():
            try:
                advocate_services.update_advocate(advocate=original, actor=request.user, data=form.field_data(), tags=form.tag_names())
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Changes saved.")
                return redirect("advocate_detail", self.workspace.slug, advocate.pk)
        return TemplateResponse(request, "manager/advocates/form.html", self.get_context_data(form=form, advocate=original), status=400)


class AdvocateStageView(ManagerView):
    def post(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        form = StageForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a stage.")
        else:
            try:
                advocate_services.change_stage(advocate=advocate, stage=form.cleaned_data["stage"], actor=request.user, reason=form.cleaned_data["reason"])
                messages.success(request, f"{advocate.display_name} is now {advocate.get_stage_display().lower()}.")
            except DomainError as exc:
                self.domain_error(exc)
        return redirect("advocate_detail", self.workspace.slug, advocate.pk)


class AdvocateDataExportView(ManagerView):
    def get(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        data = advocate_services.export_advocate_data(advocate)
        response = HttpResponse(json.dumps(data, indent=2, default=str), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="advocate-{advocate.pk}.json"'
        return response


class AdvocateEraseView(ManagerView):
    read_role = Role.MANAGER  # a form a viewer could not submit is not shown to them

    def get(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        return TemplateResponse(request, "manager/advocates/erase.html", self.get_context_data(advocate=advocate))

    def post(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        if request.POST.get("confirm") != "erase":
            messages.error(request, "Type “erase” to confirm.")
            return redirect("advocate_erase", self.workspace.slug, advocate.pk)
        advocate_services.erase_advocate(advocate=advocate, actor=request.user)
        messages.success(request, "Personal data erased. Totals and history counts are kept.")
        return redirect("advocate_detail", self.workspace.slug, advocate.pk)


class BulkTagView(ManagerView):
    def post(self, request):
        form = BulkTagForm(request.POST)
        back = request.POST.get("next") or self.url("advocate_list")
        if not back.startswith(f"/w/{self.workspace.slug}/"):
            back = self.url("advocate_list")
        if not form.is_valid():
            messages.error(request, "Choose advocates and give a tag.")
            return redirect(back)
        ids = form.cleaned_data["advocate"]
        advocates = list(Advocate.objects.filter(pk__in=ids[:5000]).only("id"))
        if not advocates:
            messages.error(request, "Select at least one advocate.")
            return redirect(back)
        try:
            count = advocate_services.set_tags(
                workspace=self.workspace, advocates=advocates, names=[form.cleaned_data["tag"]],
                mode=form.cleaned_data["mode"], actor=request.user,
            )
        except DomainError as exc:
            self.domain_error(exc)
        else:
            verb = "added to" if form.cleaned_data["mode"] == "add" else "removed from"
            messages.success(request, f"Tag “{form.cleaned_data['tag'].strip().lower()}” {verb} {count} advocate{'s' if count != 1 else ''}.")
        return redirect(back)


# --- Import ----------------------------------------------------------------------------


class ImportView(ManagerView):
    read_role = Role.MANAGER  # a form a viewer could not submit is not shown to them

    def get(self, request):
        context = self.get_context_data(
            form=ImportUploadForm(), columns=import_services.COLUMNS,
            recent=ImportJob.objects.order_by("-created_at").defer("content")[:10],
        )
        return TemplateResponse(request, "manager/advocates/import.html", context)

    def post(self, request):
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = import_services.start_import(
                    workspace=self.workspace, actor=request.user, filename=upload.name, raw=upload.read(settings.IMPORT_MAX_BYTES + 1)
                )
            except DomainError as exc:
                form.add_error("file", exc.message)
            else:
                return redirect("import_detail", self.workspace.slug, result.job.pk)
        context = self.get_context_data(form=form, columns=import_services.COLUMNS, recent=ImportJob.objects.order_by("-created_at").defer("content")[:10])
        return TemplateResponse(request, "manager/advocates/import.html", context, status=400)


class ImportDetailView(ManagerView):
    read_role = Role.MANAGER  # a form a viewer could not submit is not shown to them

    def get(self, request, import_id: int):
        job = self.get_for_workspace(ImportJob, pk=import_id)
        preview = import_services.preview(job) if job.status == ImportStatus.PREVIEW else None
        return TemplateResponse(request, "manager/advocates/import_detail.html", self.get_context_data(job=job, preview=preview))


class ImportConfirmView(ManagerView):
    def post(self, request, import_id: int):
        job = self.get_for_workspace(ImportJob, pk=import_id)
        try:
            job = import_services.confirm_import(job=job, actor=request.user)
        except DomainError as exc:
            self.domain_error(exc)
        else:
            if job.status == ImportStatus.DONE:
                messages.success(request, f"Imported: {job.created_count} added, {job.updated_count} updated.")
        return redirect("import_detail", self.workspace.slug, job.pk)


class ImportCancelView(ManagerView):
    def post(self, request, import_id: int):
        job = self.get_for_workspace(ImportJob, pk=import_id)
        try:
            import_services.cancel_import(job=job)
            messages.success(request, "Import cancelled; nothing was changed.")
        except DomainError as exc:
            self.domain_error(exc)
        return redirect("advocate_import", self.workspace.slug)


class ImportProgressView(ManagerView):
    def get(self, request, import_id: int):
        job = self.get_for_workspace(ImportJob, pk=import_id)
        return JsonResponse({
            "status": job.status, "status_label": job.get_status_display(), "processed": job.processed_rows,
            "total": job.valid_rows, "percent": job.progress_percent, "created": job.created_count,
            "updated": job.updated_count, "errors": len(job.errors), "finished": job.status in (ImportStatus.DONE, ImportStatus.FAILED),
        })


# --- Settings, team, API keys, audit -----------------------------------------------------


class SettingsView(ManagerView):
    read_role = Role.MANAGER
    write_role = Role.OWNER

    def get(self, request):
        form = WorkspaceSettingsForm(instance=self.workspace)
        return TemplateResponse(request, "manager/settings.html", self.get_context_data(form=form))

    def post(self, request):
        original = type(self.workspace).objects.get(pk=self.workspace.pk)
        form = WorkspaceSettingsForm(request.POST, instance=self.workspace)
        if form.is_valid():
            changes = {f: form.cleaned_data[f] for f in form.Meta.fields}
            workspace_services.update_workspace_settings(workspace=original, actor=request.user, changes=changes)
            messages.success(request, "Settings saved.")
            return redirect("workspace_settings", self.workspace.slug)
        return TemplateResponse(request, "manager/settings.html", self.get_context_data(form=form), status=400)


class TeamView(ManagerView):
    read_role = Role.MANAGER
    write_role = Role.OWNER

    def context(self, form=None):
        return self.get_context_data(
            members=Membership.objects.filter(workspace=self.workspace).select_related("user").order_by("user__email"),
            invitations=[i for i in StaffInvitation.objects.filter(workspace=self.workspace, accepted_at__isnull=True, revoked_at__isnull=True) if i.is_open],
            form=form or StaffInviteForm(), roles=Role.choices,
        )

    def get(self, request):
        return TemplateResponse(request, "manager/team.html", self.context())

    def post(self, request):
        form = StaffInviteForm(request.POST)
        if form.is_valid():
            try:
                workspace_services.invite_staff(workspace=self.workspace, email=form.cleaned_data["email"], role=form.cleaned_data["role"], actor=request.user)
            except DomainError as exc:
                form.add_error("email", exc.message)
            else:
                messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
                return redirect("team", self.workspace.slug)
        return TemplateResponse(request, "manager/team.html", self.context(form), status=400)


class MemberRoleView(ManagerView):
    write_role = Role.OWNER

    def post(self, request, membership_id: int):
        membership = self.get_for_workspace(Membership, pk=membership_id)
        form = RoleForm(request.POST)
        if form.is_valid():
            try:
                workspace_services.change_role(membership=membership, role=form.cleaned_data["role"], actor=request.user)
                messages.success(request, f"{membership.user.email} is now {form.cleaned_data['role']}.")
            except DomainError as exc:
                self.domain_error(exc)
        return redirect("team", self.workspace.slug)


class MemberRemoveView(ManagerView):
    write_role = Role.OWNER

    def post(self, request, membership_id: int):
        membership = self.get_for_workspace(Membership, pk=membership_id)
        try:
            workspace_services.remove_member(membership=membership, actor=request.user)
            messages.success(request, f"{membership.user.email} was removed from the team.")
        except DomainError as exc:
            self.domain_error(exc)
        if membership.user_id == request.user.id:
            return redirect("workspace_index")
        return redirect("team", self.workspace.slug)


class InvitationRevokeView(ManagerView):
    write_role = Role.OWNER

    def post(self, request, invitation_id: int):
        invitation = self.get_for_workspace(StaffInvitation, pk=invitation_id)
        StaffInvitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, f"Invitation for {invitation.email} revoked.")
        return redirect("team", self.workspace.slug)


class ApiKeysView(ManagerView):
    read_role = Role.OWNER
    write_role = Role.OWNER

    def context(self, form=None, new_key=None):
        return self.get_context_data(
            keys=ApiKey.objects.filter(workspace=self.workspace).select_related("created_by"),
            form=form or ApiKeyForm(), new_key=new_key,
        )

    SESSION_KEY = "new_api_key"

    def get(self, request):
        # The secret rides in the session from the POST to this one page view, then is gone:
        # shown once, never stored except as a hash, and a reload cannot create a second key.
        new_key = request.session.pop(self.SESSION_KEY, None)
        return TemplateResponse(request, "manager/api_keys.html", self.context(new_key=new_key))

    def post(self, request):
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            new = workspace_services.create_api_key(workspace=self.workspace, name=form.cleaned_data["name"], actor=request.user)
            request.session[self.SESSION_KEY] = new.secret
            return redirect("api_keys", self.workspace.slug)
        return TemplateResponse(request, "manager/api_keys.html", self.context(form), status=400)


class ApiKeyRevokeView(ManagerView):
    write_role = Role.OWNER

    def post(self, request, key_id: int):
        key = self.get_for_workspace(ApiKey, pk=key_id)
        workspace_services.revoke_api_key(api_key=key, actor=request.user)
        messages.success(request, f"API key “{key.name}” revoked; requests with it now answer 401.")
        return redirect("api_keys", self.workspace.slug)


class AuditLogView(ManagerView):
    read_role = Role.MANAGER

    def get(self, request):
        entries = AuditLog.objects.select_related("advocate").order_by("-created_at", "-id")
        action = request.GET.get("action", "").strip()
        if action:
            entries = entries.filter(action__startswith=action[:60])
        page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
        return TemplateResponse(request, "manager/audit.html", self.get_context_data(page=page, action=action))

