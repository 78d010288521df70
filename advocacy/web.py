"""The pages' plumbing: who may open a manager page or a portal page, inside which scope.

``ManagerView`` resolves ``/w/<slug>/`` to a workspace the signed-in user is a member of
(anyone else gets 404, as if the workspace did not exist), checks the role (reading needs
``read_role``, changing needs ``write_role``), and runs the view and the rendering of its
template inside the workspace's scope. ``PortalView`` does the same for ``/portal/<slug>/``
and the signed-in advocate. Views fetch objects with ``get_for_workspace`` so another
workspace's id is a 404.
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views import View

from .errors import DomainError
from .models import Advocate, Membership, Role, Workspace
from .scoping import workspace_scope

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _render_in_scope(response: HttpResponse) -> HttpResponse:
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    return response


def search_term(data, limit: int = 200) -> str:
    """The ``q`` of a query string or form, trimmed, without NUL characters (Postgres refuses them)."""
    return " ".join((data.get("q") or "").replace("\x00", "").split())[:limit]


class WorkspaceRequestMixin:
    """Shared by the manager and portal base views."""

    workspace: Workspace

    def get_for_workspace(self, model: type[models.Model], **lookup):
        """One object of this workspace; 404 for a missing id or another workspace's."""
        return get_object_or_404(model.objects.filter(workspace=self.workspace), **lookup)

    def domain_error(self, exc: DomainError) -> None:
        messages.error(self.request, exc.message)


class ManagerView(WorkspaceRequestMixin, View):
    read_role: str = Role.VIEWER
    write_role: str = Role.MANAGER
    membership: Membership

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?next={quote(request.get_full_path())}")
        slug = kwargs.pop("slug")
        membership = (
            Membership.objects.select_related("workspace")
            .filter(workspace__slug=slug, user=request.user)
            .first()
        )
        if membership is None:
            raise Http404("No such workspace.")
        needed = self.read_role if request.method in SAFE_METHODS else self.write_role
        if not membership.has_role(needed):
            raise PermissionDenied(f"This needs the {Role(needed).label.lower()} role; you are a {membership.get_role_display().lower()}.")
        self.membership = membership
        self.workspace = request.workspace = membership.workspace
        request.membership = membership
        with workspace_scope(self.workspace):
            return _render_in_scope(super().dispatch(request, *args, **kwargs))

    def url(self, name: str, *args) -> str:
        return reverse(name, args=[self.workspace.slug, *args])

    def get_context_data(self, **kwargs):
        context = {"workspace": self.workspace, "membership": self.membership, "view": self}
        context.update(kwargs)
        return context


class PortalView(WorkspaceRequestMixin, View):
    """A page of the member portal: the signed-in user must be an advocate of the workspace."""

    advocate: Advocate
    allow_anonymous = False

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        slug = kwargs.pop("slug")
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            raise Http404("No such workspace.")
        self.workspace = request.workspace = workspace
        with workspace_scope(workspace):
            advocate = None
            if request.user.is_authenticated:
                advocate = Advocate.objects.filter(user=request.user, erased_at__isnull=True).select_related("workspace").first()
            if advocate is None and not self.allow_anonymous:
                return redirect(f"{reverse('portal_login', args=[slug])}?next={quote(request.get_full_path())}")
            self.advocate = request.advocate = advocate
            return _render_in_scope(super().dispatch(request, *args, **kwargs))

    def get_context_data(self, **kwargs):
        context = {"workspace": self.workspace, "advocate": self.advocate, "view": self}
        context.update(kwargs)
        return context


class WorkspaceTimeMixin(View):
    """Runs the handler and renders its template in the workspace's time zone (dates typed
    and shown as its managers read them). Sits after ManagerView in the bases, so the
    workspace is known (and scoped) when it runs."""

    def dispatch(self, request, *args, **kwargs):
        from .budget import workspace_zone

        with timezone.override(workspace_zone(self.workspace)):
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response
