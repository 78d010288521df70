"""The advocate's Rewards page at /portal/<slug>/rewards/: balance, tier and the ladder,
badges (earned and still to earn), points history, held rewards and why, leaderboard."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.template.response import TemplateResponse

from advocacy.web import PortalView

from .badges import describe_rule
from .leaderboards import PERIODS, leaderboard, own_standing
from .models import AdvocateFact, Badge, BadgeAward, HeldReward, LedgerEntry
from .services import tier_for, tier_ladder

HISTORY_PAGE_SIZE = 20


def badge_shelf(advocate) -> list[dict]:
    """Every badge the advocate can see: the ones earned (even if since retired) and the
    active ones still to earn, with what it takes and how far along they are. Three queries."""
    awards = {a.badge_id: a for a in BadgeAward.objects.filter(workspace_id=advocate.workspace_id, advocate=advocate)}
    facts = dict(AdvocateFact.objects.filter(workspace_id=advocate.workspace_id, advocate=advocate).values_list("fact", "count"))
    shelf = []
    for badge in Badge.objects.filter(workspace_id=advocate.workspace_id).order_by("name"):
        award = awards.get(badge.pk)
        if award is None and not badge.active:
            continue
        rule = badge.rule or {}
        have = facts.get(rule.get("fact"), 0) if "fact" in rule else None
        shelf.append({
            "badge": badge, "award": award, "requirement": describe_rule(rule),
            "progress": f"{min(have, rule.get('at_least', 1))} of {rule.get('at_least', 1)}" if have is not None and award is None else "",
        })
    shelf.sort(key=lambda s: (s["award"] is None, s["badge"].name.lower()))
    return shelf


def ladder_progress(advocate, ladder):
    """Current tier, next tier, points to go and percent, from an already-loaded ladder."""
    current = tier_for(advocate.lifetime_points, ladder)
    above = [t for t in ladder if t.threshold > advocate.lifetime_points]
    nxt = above[0] if above else None
    if nxt is None:
        return {"current": current, "next": None, "points_to_next": 0, "percent": 100}
    base = current.threshold if current else 0
    span = max(1, nxt.threshold - base)
    return {"current": current, "next": nxt, "points_to_next": nxt.threshold - advocate.lifetime_points,
            "percent": max(0, min(100, int(100 * (advocate.lifetime_points - base) / span)))}


class PortalRewardsView(PortalView):
    def get(self, request):
        advocate = self.advocate
        ladder = tier_ladder(self.workspace)
        history = LedgerEntry.objects.filter(workspace=self.workspace, advocate=advocate).order_by("-created_at", "-id")
        page = Paginator(history, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
        held = list(HeldReward.objects.filter(workspace=self.workspace, advocate=advocate, status=HeldReward.Status.HELD).order_by("release_at", "id"))
        period = request.GET.get("period")
        period = period if period in PERIODS else "month"
        rows = leaderboard(workspace=self.workspace, period=period, limit=10)
        my_points, my_rank = own_standing(advocate=advocate, period=period)
        return TemplateResponse(request, "portal/rewards/rewards.html", self.get_context_data(
            ladder=ladder, progress=ladder_progress(advocate, ladder), shelf=badge_shelf(advocate), page=page,
            held=held, held_total=sum(h.amount for h in held), rows=rows, period=period, periods=PERIODS,
            my_points=my_points, my_rank=my_rank, me_listed=any(r.advocate_id == advocate.pk for r in rows),
            query=f"period={period}",
        ))
