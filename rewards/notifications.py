"""Reward emails to advocates (rendered here, delivered by the worker)."""

from __future__ import annotations

from django.urls import reverse

from advocacy.models import Advocate, Channel
from advocacy.notifications import send_templated_email
from advocacy.scoping import scopes_disabled

from .models import Tier


def send_tier_promotion(*, advocate_id: int, tier_id: int) -> None:
    with scopes_disabled():
        advocate = Advocate.objects.select_related("workspace").get(pk=advocate_id)
        tier = Tier.objects.get(pk=tier_id, workspace_id=advocate.workspace_id)
    if Channel.EMAIL not in (advocate.channels or []) or advocate.is_erased:
        return
    send_templated_email(
        to=advocate.email, template="tier_promotion",
        context={"name": advocate.name or advocate.email, "tier": tier.name, "perks": tier.perks,
                 "workspace_name": advocate.workspace.name, "points": advocate.lifetime_points,
                 "portal_path": reverse("portal_home", args=[advocate.workspace.slug])},
    )
