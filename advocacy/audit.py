"""The audit log: one row per change a person makes, in the same transaction."""

from __future__ import annotations

from typing import Any

from .models import Advocate, AuditLog, Workspace


def acting_user(actor):
    """The User behind ``actor`` (a User, an API key, a label or None), or None."""
    return actor if getattr(actor, "pk", None) and hasattr(actor, "email") else None


def log_action(
    *,
    workspace: Workspace,
    actor,
    action: str,
    message: str,
    advocate: Advocate | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Record ``action`` by ``actor`` (a User, or None for the system or an integration)."""
    label = ""
    if actor is not None:
        label = getattr(actor, "email", "") or str(actor)
    return AuditLog.objects.create(
        workspace=workspace,
        actor=acting_user(actor),
        actor_label=label,
        action=action,
        advocate=advocate,
        message=message[:500],
        data=data or {},
    )
