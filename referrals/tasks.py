"""Celery tasks of the referrals app (conventions: advocacy/tasks.py).

``drain_clicks`` runs every 10 seconds on the ``clicks`` queue (advocacy/settings.py
CELERY_BEAT_SCHEDULE) and moves the buffered clicks of ``/r/<code>`` into Postgres. It is
idempotent by construction (each click's own UUID, ``ON CONFLICT DO NOTHING``, acks only
after commit: see referrals/clicks.py), so ``acks_late`` and a redelivery after a lost
worker are safe, and two drains at once split the stream between them.
"""

from __future__ import annotations

from celery import shared_task

QUEUE = "clicks"


@shared_task(name="referrals.tasks.drain_clicks", queue=QUEUE, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def drain_clicks(batch: int = 1000) -> int:
    """Write the buffered clicks in batches of ``batch``; returns how many rows were new."""
    from .clicks import drain_clicks as drain

    return drain(batch=batch)
