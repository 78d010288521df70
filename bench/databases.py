"""The benchmarks' databases: each benchmark runs in a database of its own, named after
DATABASE_URL's with a suffix, so it never touches the demo's or the tests' data."""

from __future__ import annotations

import os

DEFAULT_URL = "postgres://postgres@localhost:5432/advocacy"


def _admin_connection(url: str):
    import environ
    import psycopg

    cfg = environ.Env.db_url_config(url)
    conn = psycopg.connect(dbname="postgres", user=cfg.get("USER") or None, host=cfg.get("HOST") or None,
                           port=cfg.get("PORT") or None, password=cfg.get("PASSWORD") or None, autocommit=True)
    return conn, cfg["NAME"]


def use_bench_database(suffix: str, *, fresh: bool = False) -> str:
    """Point DATABASE_URL at ``<name>_<suffix>``: created when missing, or dropped and
    created anew with ``fresh``. Returns the database's name."""
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    conn, base = _admin_connection(url)
    name = f"{base}_{suffix}"
    with conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if fresh or not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    return name


def drop_bench_database(name: str) -> None:
    """Drop a benchmark's database (after closing Django's connections to it)."""
    from django.db import connections

    connections.close_all()
    conn, _ = _admin_connection(os.environ["DATABASE_URL"])
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
