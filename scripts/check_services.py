"""Fail fast, with a clear message, when the test suite's Postgres or Redis is unreachable."""

from __future__ import annotations

import os
import sys


def main() -> int:
    problems = []
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        problems.append(f"DATABASE_URL must point at PostgreSQL for the tests (got {database_url or 'nothing'}).")
    else:
        import environ
        import psycopg

        cfg = environ.Env.db_url_config(database_url)
        try:
            psycopg.connect(
                dbname="postgres", user=cfg.get("USER") or None, password=cfg.get("PASSWORD") or None,
                host=cfg.get("HOST") or None, port=cfg.get("PORT") or None, connect_timeout=3,
            ).close()
        except Exception as exc:
            problems.append(f"PostgreSQL at {database_url} is unreachable: {str(exc).strip().splitlines()[0]}")
    try:
        import redis

        redis.Redis.from_url(redis_url or "redis://localhost:6379/0", socket_connect_timeout=3).ping()
    except Exception as exc:
        problems.append(f"Redis at {redis_url} is unreachable: {exc}")
    if problems:
        print("Cannot run the tests:", *problems, sep="\n  - ", file=sys.stderr)
        print("Start them (see README, 'Running the tests') or set DATABASE_URL / REDIS_URL.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
