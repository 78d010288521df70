"""Entering a workspace's scope. Tenant managers fail closed outside one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django_scopes import scope, scopes_disabled

from .models import Workspace

__all__ = ["scopes_disabled", "workspace_scope"]


@contextmanager
def workspace_scope(workspace: Workspace | int) -> Iterator[None]:
    """Run the block with every tenant query limited to ``workspace``."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    with scope(workspace=workspace_id):
        yield
