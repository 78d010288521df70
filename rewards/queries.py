"""Reads of the ledger that several entry points share."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from advocacy.models import Advocate

from .models import LedgerEntry, earned_entries


@dataclass(frozen=True)
class LedgerMismatch:
    workspace_slug: str
    advocate_id: int
    advocate_email: str
    cached_balance: int
    ledger_balance: int
    cached_lifetime: int
    ledger_lifetime: int


def ledger_mismatches(advocates=None) -> list[LedgerMismatch]:
    """Every advocate whose cached balance or lifetime points differ from their entries,
    computed in two grouped queries (call with scopes disabled to check every workspace)."""
    advocates = advocates if advocates is not None else Advocate.objects.all()
    sums = {
        row["advocate_id"]: (row["balance"] or 0, row["earned"] or 0)
        for row in LedgerEntry.objects.filter(advocate__in=advocates.values("pk")).values("advocate_id").annotate(
            balance=Sum("amount"),
            earned=Sum("amount", filter=earned_entries()),
        )
    }
    out = []
    for a in advocates.select_related("workspace").only("pk", "email", "points_balance", "lifetime_points", "workspace__slug").iterator(chunk_size=5000):
        balance, earned = sums.get(a.pk, (0, 0))
        if (balance, earned) != (a.points_balance, a.lifetime_points):
            out.append(LedgerMismatch(a.workspace.slug, a.pk, a.email, a.points_balance, balance, a.lifetime_points, earned))
    return out

