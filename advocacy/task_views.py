"""The manager's task list (check-ins, follow-ups, suggestions about people): the list with
status and kind filters (open tasks first), one task with why it was opened, and done /
dismiss with notes, or reopen. The rules are advocacy.services.tasks'."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Q, Value, When
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from .errors import DomainError
from .models import Task, TaskKind
from .services import tasks as task_services
from .web import ManagerView, search_term

PAGE_SIZE = 50
STATUS_FILTERS = [("open", "Open"), ("done", "Done"), ("dismissed", "Dismissed"), ("all", "All")]


class TaskCloseForm(forms.Form):
    status = forms.ChoiceField(choices=[(Task.Status.DONE, "Done"), (Task.Status.DISMISSED, "Dismiss")])
    notes = forms.CharField(required=False, max_length=task_services.MAX_NOTES, widget=forms.Textarea(attrs={"rows": 3}),
                            label="Notes", help_text="What was done, or why it is dismissed.")


class TaskListView(ManagerView):
    def get(self, request):
        status = request.GET.get("status") or "open"
        kind = request.GET.get("kind") or ""
        if status not in dict(STATUS_FILTERS) or (kind and kind not in TaskKind.values):
            messages.error(request, "That filter was not understood; showing the open tasks.")
            status, kind = "open", ""
        rows = Task.objects.filter(workspace=self.workspace).select_related("advocate", "done_by")
        if status != "all":
            rows = rows.filter(status=status)
        if kind:
            rows = rows.filter(kind=kind)
        q = search_term(request.GET)
        if q:
            rows = rows.filter(Q(title__icontains=q) | Q(advocate__email__icontains=q) | Q(advocate__name__icontains=q))
        open_first = Case(When(status=Task.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
        page = Paginator(rows.order_by(open_first, "-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
        query = urlencode({"status": status, **({"kind": kind} if kind else {}), **({"q": q} if q else {})})
        return TemplateResponse(request, "manager/tasks/list.html", self.get_context_data(
            page=page, status=status, kind=kind, q=q, query=query, filters=STATUS_FILTERS, kinds=TaskKind.choices,
            can_write=self.membership.has_role(self.write_role),
        ))


class _TaskPage(ManagerView):
    def task(self, task_id) -> Task:
        return get_object_or_404(Task.objects.filter(workspace=self.workspace).select_related("advocate", "done_by"), pk=task_id)

    def render(self, task, form=None, error="", status=200):
        return TemplateResponse(self.request, "manager/tasks/detail.html", self.get_context_data(
            task=task, form=form or TaskCloseForm(), error=error, can_write=self.membership.has_role(self.write_role),
        ), status=status)


class TaskDetailView(_TaskPage):
    def get(self, request, task_id: int):
        return self.render(self.task(task_id))


class TaskCloseView(_TaskPage):
    """POST: mark the task done or dismissed, with notes (the form is on the task's page)."""

    def post(self, request, task_id: int):
        task = self.task(task_id)
        form = TaskCloseForm(request.POST)
        if not form.is_valid():
            return self.render(task, form=form, status=400)
        try:
            task = task_services.close_task(task=task, actor=request.user, notes=form.cleaned_data["notes"],
                                            status=form.cleaned_data["status"])
        except DomainError as exc:
            return self.render(self.task(task_id), form=form, error=exc.message, status=409 if exc.status == 409 else 400)
        messages.success(request, f"“{task.title}” is {task.get_status_display().lower()}.")
        if request.POST.get("next") == "list":
            return redirect("task_list", self.workspace.slug)
        return redirect("task_detail", self.workspace.slug, task.pk)


class TaskReopenView(_TaskPage):
    def post(self, request, task_id: int):
        task = self.task(task_id)
        try:
            task = task_services.reopen_task(task=task, actor=request.user)
        except DomainError as exc:
            return self.render(self.task(task_id), error=exc.message, status=409 if exc.status == 409 else 400)
        messages.success(request, f"“{task.title}” is open again.")
        return redirect("task_detail", self.workspace.slug, task.pk)


urls = [
    path("tasks/", TaskListView.as_view(), name="task_list"),
    path("tasks/<int:task_id>/", TaskDetailView.as_view(), name="task_detail"),
    path("tasks/<int:task_id>/close/", TaskCloseView.as_view(), name="task_close"),
    path("tasks/<int:task_id>/reopen/", TaskReopenView.as_view(), name="task_reopen"),
]
