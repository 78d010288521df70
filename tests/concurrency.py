"""Real-thread races against Postgres, for the exactly-once tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

MAX_CONNECTIONS = 40  # Postgres allows 100 connections here, shared with other test runs


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``n`` real threads released together by a barrier; at most
    MAX_CONNECTIONS hold a database connection at once. Returns each thread's result, or
    the exception it raised. Use with ``@pytest.mark.django_db(transaction=True)``."""
    barrier = threading.Barrier(n)
    gate = threading.BoundedSemaphore(MAX_CONNECTIONS)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            with gate:
                try:
                    results[i] = work(i)
                finally:
                    connection.close()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def errors_of(results: list[Any]) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]
