"""Builders shared by the catalog and redemption tests."""

from __future__ import annotations

from advocacy.scoping import workspace_scope
from rewards.models import CatalogItem, EntryKind, ItemKind
from rewards.services import credit_points


def credit(advocate, amount, key="seed"):
    with workspace_scope(advocate.workspace):
        credit_points(advocate=advocate, amount=amount, kind=EntryKind.EARN_BONUS, reason="test", idempotency_key=key)


def make_item(workspace, **fields) -> CatalogItem:
    defaults = {"name": "Mug", "kind": ItemKind.SWAG, "cost": 100}
    return CatalogItem.objects.with_scopes_disabled().create(workspace=workspace, **(defaults | fields))
