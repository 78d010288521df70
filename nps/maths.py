"""NPS arithmetic, exactly as PRODUCT.md defines it.

NPS = 100 * (promoters - detractors) / responses, from -100 to 100, with one decimal
(halves rounded away from zero: 12.25 -> 12.3, -12.25 -> -12.3); with no responses it is
None (null), never 0. The response rate is responses / people sent, also with one decimal
(a percentage), None when nobody was sent anything; only answers to a send count in it (an
integration's answer naming the survey counts in the NPS, not in the rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ONE_DECIMAL = Decimal("0.1")


def nps(promoters: int, passives: int, detractors: int) -> Decimal | None:
    responses = promoters + passives + detractors
    if responses <= 0:
        return None
    return (Decimal(100 * (promoters - detractors)) / Decimal(responses)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def rate(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` as a percentage with one decimal; None when ``whole`` is 0."""
    if whole <= 0:
        return None
    return (Decimal(100 * part) / Decimal(whole)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class NpsFigures:
    """The NPS of a set of answers with its three counts (and, when known, the response rate)."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    sent: int | None = None  # people sent the survey (None: not a survey's figures, e.g. API answers)
    answered: int | None = None  # the responses to a send (the rate's numerator; None: all responses)

    @property
    def responses(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> Decimal | None:
        return nps(self.promoters, self.passives, self.detractors)

    @property
    def response_rate(self) -> Decimal | None:
        if self.sent is None:
            return None
        return rate(self.responses if self.answered is None else self.answered, self.sent)

    def as_dict(self) -> dict:
        return {
            "nps": None if self.nps is None else float(self.nps),
            "responses": self.responses, "promoters": self.promoters, "passives": self.passives,
            "detractors": self.detractors, "sent": self.sent,
            "response_rate": None if self.response_rate is None else float(self.response_rate),
        }
