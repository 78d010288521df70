"""What every programs page shares: the manager view in the workspace's time zone (deadlines
are typed and shown in it), and turning a domain error into form messages with its status."""

from __future__ import annotations

from django import forms

from advocacy.budget import workspace_zone
from advocacy.errors import DomainError
from advocacy.web import ManagerView, WorkspaceTimeMixin

PAGE_SIZE = 50


class ProgramsView(ManagerView, WorkspaceTimeMixin):
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
