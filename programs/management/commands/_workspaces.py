"""The workspaces a programs command runs in: every one, or the one named by --workspace."""

from __future__ import annotations

from django.core.management.base import CommandError

from advocacy.models import Workspace
from advocacy.scoping import scopes_disabled


def add_workspace_argument(parser) -> None:
    parser.add_argument("--workspace", help="Only this workspace (slug).")


def selected_workspaces(slug: str | None) -> list[Workspace]:
    with scopes_disabled():
        workspaces = Workspace.objects.order_by("slug")
        if slug:
            workspaces = workspaces.filter(slug=slug)
            if not workspaces.exists():
                raise CommandError(f"No workspace {slug!r}.")
        return list(workspaces)


def counted(n: int, word: str, plural: str | None = None) -> str:
    """ "1 offer", "2 offers"."""
    return f"{n} {word if n == 1 else (plural or word + 's')}"
