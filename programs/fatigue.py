"""Fatigue rules on top of the core contact budget (being written: see issue 4)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hold:
    reason: str
    detail: str


def offer_hold(*, advocate, ask, now) -> Hold | None:
    return None
