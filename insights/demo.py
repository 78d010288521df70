"""The demo's insights (run last by seed_demo, after every other app has seeded its data):
a year of program costs, the daily rollups of the last 365 days and every advocate's score,
so the dashboard, the candidates page and the advocate pages have something to show. Safe to
rerun: costs are added once (by their note), and rollups and scores are recomputed whole."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from advocacy.models import Workspace
from programs.models import Program

from .costs import create_cost
from .models import CostCategory, ProgramCost
from .rollups import local_today, rollup_days
from .scores import recompute_scores

DEMO_NOTE = "Demo: "
# (category, monthly amount) per program, entered each quarter.
MONTHLY = [(CostCategory.SOFTWARE, Decimal("400.00")), (CostCategory.STAFF, Decimal("1500.00")),
           (CostCategory.REWARDS, Decimal("250.00"))]


def seed(*, workspace: Workspace, rng: random.Random) -> str:
    manager = workspace.memberships.select_related("user").order_by("id").first()
    actor = manager.user if manager else None
    today = local_today(workspace)
    costs = 0
    if not ProgramCost.objects.filter(workspace=workspace, note__startswith=DEMO_NOTE).exists():
        local = random.Random(71)
        for program in Program.objects.filter(workspace=workspace).order_by("id"):
            for quarter in range(4):
                incurred_on = today - timedelta(days=90 * quarter + 5)
                for category, monthly in MONTHLY:
                    amount = (monthly * 3 * Decimal(local.uniform(0.8, 1.2))).quantize(Decimal("0.01"))
                    create_cost(workspace=workspace, actor=actor, program=program, category=category, amount=amount,
                                incurred_on=incurred_on, note=f"{DEMO_NOTE}{category.label.lower()}, quarter {4 - quarter}")
                    costs += 1
    days = rollup_days(workspace=workspace, start=today - timedelta(days=364), end=today)
    scored = recompute_scores(workspace=workspace)
    return f"{costs} program costs, {days} days rolled up, {scored} scores computed"
