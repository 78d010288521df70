"""What every programs page shares: the manager view in the workspace's time zone (deadlines
are typed and shown in it), and turning a domain error into form messages with its status."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.views import View

from advocacy.budget import workspace_zone
from advocacy.errors import DomainError
from advocacy.web import ManagerView

PAGE_SIZE = 50


class _WorkspaceTime(View):
    """Runs the handler and renders its template in the workspace's time zone. Sits after
    ManagerView in the MRO, so the workspace is known (and scoped) when it runs."""

    def dispatch(self, request, *args, **kwargs):
        with timezone.override(workspace_zone(self.workspace)):
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response


class ProgramsView(ManagerView, _WorkspaceTime):
    """A manager page of the programs app."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("can_write", self.membership.has_role(self.write_role))
        context.setdefault("zone", workspace_zone(self.workspace).key)
        return context


def form_error(form: forms.Form, exc: DomainError) -> int:
    """Show a service's refusal on the form: its message on top, its per-field messages by
    the fields. Returns the status of the re-rendered page (400, or 409 for a conflict)."""
    form.add_error(None, exc.message)
    for field, errors in (exc.fields or {}).items():
        if field in form.fields:
            form.add_error(field, errors)
    return 409 if exc.status == 409 else 400




def status_of(exc: DomainError) -> int:
    return 409 if exc.status == 409 else 400
