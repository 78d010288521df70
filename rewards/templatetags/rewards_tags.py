"""Template tags of rewards for pages outside the app (the portal home)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def tier_progress_of(advocate):
    """``{% tier_progress_of advocate as progress %}``: current and next tier, points to go, percent."""
    from rewards.portal import ladder_progress
    from rewards.services import tier_ladder

    return ladder_progress(advocate, tier_ladder(advocate.workspace))
