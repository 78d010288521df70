"""Demo data of the insights app (called by ``seed_demo`` last, after every app below it has
written its history): the rollups of the demo's past year, so the dashboard has trends from
the start (the beat job then keeps today and yesterday current). Safe to rerun: a rollup
recomputes its days whole."""

from __future__ import annotations

import random
from datetime import timedelta

from advocacy.models import Workspace

from .rollups import local_today, rollup_days

DAYS = 365


def seed(*, workspace: Workspace, rng: random.Random) -> str:
    today = local_today(workspace)
    days = rollup_days(workspace=workspace, start=today - timedelta(days=DAYS - 1), end=today)
    return f"rollups of the last {days} days"
