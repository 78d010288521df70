"""Benchmarks of the foundation: event ingestion and the advocate list (API and page).

Runs against a database of its own (DATABASE_URL's name + "_bench", created and migrated
on first use), so it never touches the demo's or the tests' data. Prints one line per
figure; the README quotes them.

    make bench        # or: DATABASE_URL=postgres://… .venv/bin/python bench/run.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advocacy.settings")
os.environ.setdefault("STATIC_MANIFEST", "0")

from bench.databases import use_bench_database


def main() -> None:
    use_bench_database("bench")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from advocacy.models import Advocate, Role, Workspace
    from advocacy.scoping import scopes_disabled, workspace_scope
    from advocacy.services.events import record_events
    from advocacy.services.workspaces import create_api_key, create_workspace, get_or_create_user

    with scopes_disabled():
        Workspace.objects.filter(slug="bench").delete()
    user, _ = get_or_create_user("bench@example.com", password="bench-password-1")
    workspace = create_workspace(slug="bench", name="Bench", owner=user)
    assert workspace.memberships.get().role == Role.OWNER
    secret = create_api_key(workspace=workspace, name="bench").secret

    people = 10_000
    with workspace_scope(workspace):
        started = time.perf_counter()
        Advocate.objects.bulk_create(
            [Advocate(workspace=workspace, email=f"p{i}@bench.example", name=f"Person {i}") for i in range(people)],
            batch_size=2000,
        )
        print(f"seed: {people:,} advocates in {time.perf_counter() - started:.2f} s")

        batches, batch = 20, 1000
        timings = []
        for b in range(batches):
            payload = [{"advocate": {"email": f"p{(b * batch + i) % people}@bench.example"}, "kind": "email_open"} for i in range(batch)]
            started = time.perf_counter()
            record_events(workspace=workspace, payload=payload)
            timings.append(time.perf_counter() - started)
        total = sum(timings)
        print(f"events: {batches * batch:,} events in batches of {batch:,}: {batches * batch / total:,.0f} events/s "
              f"(median batch {statistics.median(timings) * 1000:.0f} ms)")

    client = Client(HTTP_HOST="localhost")
    for size in (10, 100, 200):
        url = f"/api/v1/advocates/?page_size={size}"
        client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}")
        runs = []
        for _ in range(20):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}")
                runs.append(time.perf_counter() - started)
            assert response.status_code == 200, response.content
        print(f"api list page_size={size}: median {statistics.median(runs) * 1000:.1f} ms, {len(queries)} queries")

    client.force_login(user)
    runs = []
    for _ in range(20):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get("/w/bench/advocates/?sort=-last_activity")
            runs.append(time.perf_counter() - started)
        assert response.status_code == 200
    print(f"manager list (50 rows of {people:,}): median {statistics.median(runs) * 1000:.1f} ms, {len(queries)} queries")

    with scopes_disabled():
        Workspace.objects.filter(slug="bench").delete()


def rotation(database_url: str | None) -> None:
    """Ask rotation over 100k advocates: its own script and database (bench/rotation.py)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url:
        env["DATABASE_URL"] = database_url
    subprocess.run([sys.executable, str(Path(__file__).with_name("rotation.py"))], env=env, check=True)


def rollup(database_url: str | None) -> None:
    """The daily rollup of one day over 1M events against a hand-written GROUP BY (bench/rollup.py)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url:
        env["DATABASE_URL"] = database_url
    subprocess.run([sys.executable, str(Path(__file__).with_name("rollup.py"))], env=env, check=True)


def redirect(database_url: str | None) -> None:
    """/r/<code> against a bare redirect view on one gunicorn server (bench/redirect.py)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url:
        env["DATABASE_URL"] = database_url
    subprocess.run([sys.executable, str(Path(__file__).with_name("redirect.py"))], env=env, check=True)


if __name__ == "__main__":
    given = os.environ.get("DATABASE_URL")
    main()
    rotation(given)
    rollup(given)
    redirect(given)
