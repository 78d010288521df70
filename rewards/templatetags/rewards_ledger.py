"""``{% points_card advocate %}``: the advocate's points, tier and held rewards, for the
core's advocate page (which knows nothing of rewards but this tag's name)."""

from django import template

from ..models import HeldReward
from ..services import tier_progress

register = template.Library()


@register.inclusion_tag("manager/rewards/_points_card.html", takes_context=True)
def points_card(context, advocate):
    held = list(HeldReward.objects.filter(advocate=advocate, status=HeldReward.Status.HELD).order_by("release_at", "id")[:20])
    return {"advocate": advocate, "workspace": context["workspace"], "membership": context["membership"],
            "held": held, "progress": tier_progress(advocate)}
