"""The life of an assignment: the one place that says which state may follow which
(PRODUCT.md "Programs and asks"). Services claim a transition with a conditional
``UPDATE … WHERE state IN (sources)``; anything else is refused with a message that says
what is possible instead."""

from __future__ import annotations

from .models import AssignmentState as S

TRANSITIONS: dict[str, frozenset[str]] = {
    S.OFFERED: frozenset({S.ACCEPTED, S.DECLINED, S.EXPIRED, S.WITHDRAWN}),
    S.ACCEPTED: frozenset({S.SUBMITTED, S.EXPIRED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED}),
    S.APPROVED: frozenset(),
    S.DECLINED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

# Offers still waiting for an answer, and work under way (PRODUCT.md's rotation formula).
OUTSTANDING = (S.OFFERED,)
IN_PROGRESS = (S.ACCEPTED, S.SUBMITTED)
FINAL = tuple(s for s, targets in TRANSITIONS.items() if not targets)

# What the advocate or manager does to cause each transition, for messages and buttons.
VERBS = {
    S.ACCEPTED: "accept", S.DECLINED: "decline", S.SUBMITTED: "submit", S.APPROVED: "approve",
    S.REJECTED: "reject", S.EXPIRED: "expire", S.WITHDRAWN: "withdraw",
}
PAST = {
    S.ACCEPTED: "accepted", S.DECLINED: "declined", S.SUBMITTED: "submitted", S.APPROVED: "approved",
    S.REJECTED: "rejected", S.EXPIRED: "expired", S.WITHDRAWN: "withdrawn",
}


def sources_of(target: str) -> list[str]:
    return sorted(source for source, targets in TRANSITIONS.items() if target in targets)


def can_move(state: str, target: str) -> bool:
    return target in TRANSITIONS.get(state, ())


def refusal(state: str, target: str) -> str:
    """Why ``state`` cannot become ``target``, and what it can become instead."""
    label = S(state).label.lower()
    allowed = sorted(TRANSITIONS.get(state, ()))
    message = f"This assignment is {label}, so it cannot be {PAST.get(target, target)}"
    if allowed:
        return message + f" (it can only be {' or '.join(PAST[t] for t in allowed)})."
    return message + f"; {label} is final."
