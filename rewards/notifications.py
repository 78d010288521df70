"""Reward emails to advocates (rendered here, delivered by the worker)."""

from __future__ import annotations

from advocacy.models import Advocate
from advocacy.notifications import email_advocate
from advocacy.scoping import scopes_disabled

from .models import Tier


def send_tier_promotion(*, advocate_id: int, tier_id: int) -> None:
    with scopes_disabled():
        advocate = Advocate.objects.select_related("workspace").get(pk=advocate_id)
        tier = Tier.objects.get(pk=tier_id, workspace_id=advocate.workspace_id)
    email_advocate(
        advocate=advocate, template="tier_promotion",
        context={"tier": tier.name, "perks": tier.perks, "points": advocate.lifetime_points},
    )
