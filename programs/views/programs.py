"""Programs: the list (status filter, open asks and proof waiting per program), the
create/edit form (objectives one number per metric, onboarding steps one per line), the
detail page (its asks with progress, objectives against results) and its outcomes as CSV."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from advocacy.errors import DomainError
from advocacy.exports import inert, streaming_csv
from advocacy.models import Role
from advocacy.web import search_term

from .. import services
from ..forms import ProgramForm
from ..models import Ask, Outcome, Program, ProgramStatus
from .base import PAGE_SIZE, ProgramsView, form_error
from .reads import ask_rows, program_list, program_results

STATUS_FILTERS = [("current", "Active and draft"), *ProgramStatus.choices, ("all", "All")]
ASK_FILTERS = [("open", "Open"), ("draft", "Draft"), ("closed", "Closed"), ("all", "All")]


class ProgramListView(ProgramsView):
    def get(self, request):
        status = request.GET.get("status") or "current"
        if status not in dict(STATUS_FILTERS):
            messages.error(request, "That status filter was not understood; showing active and draft programs.")
            status = "current"
        rows = Program.objects.filter(workspace=self.workspace)
        if status == "current":
            rows = rows.filter(status__in=[ProgramStatus.ACTIVE, ProgramStatus.DRAFT])
        elif status != "all":
            rows = rows.filter(status=status)
        q = search_term(request.GET, 120)
        if q:
            rows = rows.filter(name__icontains=q)
        page = Paginator(program_list(rows.order_by("name", "id")), PAGE_SIZE).get_page(request.GET.get("page"))
        query = urlencode({"status": status, **({"q": q} if q else {})})
        return TemplateResponse(request, "manager/programs/list.html", self.get_context_data(
            page=page, status=status, filters=STATUS_FILTERS, q=q, query=query,
            waiting=services.approval_queue(self.workspace).count(),
        ))


class ProgramFormView(ProgramsView):
    read_role = Role.MANAGER  # a form a viewer could not submit is not shown to them

    def render(self, form, program, status=200):
        return TemplateResponse(self.request, "manager/programs/form.html",
                                self.get_context_data(form=form, program=program), status=status)

    def get(self, request, program_id: int | None = None):
        program = self.get_for_workspace(Program, pk=program_id) if program_id else None
        form = ProgramForm(initial=ProgramForm.initial_for(program)) if program else ProgramForm()
        return self.render(form, program)

    def post(self, request, program_id: int | None = None):
        program = self.get_for_workspace(Program, pk=program_id) if program_id else None
        form = ProgramForm(request.POST)
        if form.is_valid():
            try:
                if program is None:
                    program = services.create_program(workspace=self.workspace, actor=request.user, data=form.service_data())
                else:
                    program = services.update_program(program=program, actor=request.user, data=form.service_data())
            except DomainError as exc:
                return self.render(form, program, status=form_error(form, exc))
            messages.success(request, f"{program.name} is saved.")
            return redirect("program_detail", self.workspace.slug, program.pk)
        return self.render(form, program, status=400)


class ProgramDetailView(ProgramsView):
    def get(self, request, program_id: int):
        program = self.get_for_workspace(Program, pk=program_id)
        status = request.GET.get("status") or "open"
        if status not in dict(ASK_FILTERS):
            status = "open"
        asks = Ask.objects.filter(workspace=self.workspace, program=program)
        if status != "all":
            asks = asks.filter(status=status)
        page = Paginator(asks.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
        by_status = dict(Ask.objects.filter(workspace=self.workspace, program=program)
                         .values_list("status").annotate(n=Count("id")).order_by())
        return TemplateResponse(request, "manager/programs/detail.html", self.get_context_data(
            program=program, rows=ask_rows(page.object_list), page=page, status=status, query=f"status={status}",
            filters=[(v, label, sum(by_status.values()) if v == "all" else by_status.get(v, 0)) for v, label in ASK_FILTERS],
            results=program_results(program),
        ))


class ProgramOutcomesExportView(ProgramsView):
    """The program's outcomes (deals, reviews, reach) as CSV, for the pipeline report."""

    HEADER = ["id", "recorded_at", "advocate_email", "advocate_name", "ask", "kind", "deal_name", "amount", "deal_status",
              "url", "reach", "note"]

    def get(self, request, program_id: int):
        program = self.get_for_workspace(Program, pk=program_id)
        rows = (Outcome.objects.filter(workspace=self.workspace, program=program)
                .select_related("advocate", "assignment__ask").order_by("created_at", "id"))

        def as_rows():
            for o in rows.iterator(chunk_size=2000):
                yield [o.pk, o.created_at.isoformat(), inert(o.advocate.email), inert(o.advocate.name), inert(o.assignment.ask.title),
                       o.kind, inert(o.deal_name), "" if o.amount is None else o.amount, o.deal_status, inert(o.url),
                       "" if o.reach is None else o.reach, inert(o.note)]

        return streaming_csv(workspace=self.workspace, name=f"program-{program.pk}-outcomes", header=self.HEADER, rows=as_rows)
