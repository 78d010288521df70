"""Rollups of the same days running at once (the hourly job and a manager's "Refresh now")
are serialised per workspace and end with the same rows as one run."""

from __future__ import annotations

import pytest

from advocacy.scoping import workspace_scope
from insights.rollups import rollup_days
from tests.concurrency import errors_of, race

from .test_rollup_scenario import D1, D2, World, metric_rows, people_rows


@pytest.mark.django_db(transaction=True)
def test_concurrent_rollups_of_the_same_days_end_with_the_rows_of_one_run(tenant_a):
    world = World(tenant_a.workspace)
    ws = world.ws
    with workspace_scope(ws):
        rollup_days(workspace=ws, start=D1, end=D2)
    once, once_people = metric_rows(ws), people_rows(ws)

    def work(i):
        with workspace_scope(ws):
            return rollup_days(workspace=ws, start=D1, end=D2)

    results = race(6, work)
    assert errors_of(results) == []
    assert metric_rows(ws) == once
    assert people_rows(ws) == once_people
