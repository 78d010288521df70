"""What the programs pages read, each in a fixed number of queries whatever the rows.

The rules (what progress and wanted mean) are programs.services'; these only gather the
numbers the pages show beside them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from advocacy.models import Stage

from .. import services
from ..models import (
    OBJECTIVE_METRICS,
    Ask,
    AskKind,
    AskStatus,
    Assignment,
    AssignmentState,
    DealStatus,
    Enrollment,
    Outcome,
    OutcomeKind,
    Program,
)

S = AssignmentState


def _count(queryset) -> Coalesce:
    """A correlated COUNT(*) of ``queryset`` (already filtered on OuterRef), 0 when none."""
    return Coalesce(
        Subquery(queryset.order_by().values("workspace").annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), 0,
    )


def program_list(queryset):
    """Programs with their open asks, proof waiting for approval and completions: one query."""
    return queryset.annotate(
        open_asks=_count(Ask.objects.filter(program=OuterRef("pk"), status=AskStatus.OPEN)),
        asks_total=_count(Ask.objects.filter(program=OuterRef("pk"))),
        pending_approvals=_count(Assignment.objects.filter(program=OuterRef("pk"), state=S.SUBMITTED)),
        completions=_count(Assignment.objects.filter(program=OuterRef("pk"), state=S.APPROVED)),
    )


@dataclass(frozen=True)
class AskRow:
    ask: Ask
    progress: services.AskProgress
    counts: dict[str, int]

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.progress.approved / self.ask.capacity)) if self.ask.capacity else 0


def ask_rows(asks) -> list[AskRow]:
    """Each ask with PRODUCT.md's progress numbers (one query for all the asks' counts)."""
    asks = list(asks)
    counts = services.ask_counts(asks) if asks else {}
    return [AskRow(a, services.ask_progress(a, counts.get(a.pk, {})), counts.get(a.pk, {})) for a in asks]


@dataclass(frozen=True)
class ObjectiveRow:
    metric: str
    label: str
    target: int | None
    actual: int | Decimal | None  # None: not measured by the programs app (referrals are)
    money: bool = False

    @property
    def percent(self) -> int | None:
        if not self.target or self.actual is None:
            return None
        return min(100, int(100 * self.actual / self.target))


MONEY_METRICS = {"pipeline", "revenue_won"}
COMPLETION_KINDS = {"reviews": AskKind.REVIEW, "reference_calls": AskKind.REFERENCE_CALL, "case_studies": AskKind.CASE_STUDY}


def program_results(program: Program) -> list[ObjectiveRow]:
    """Every metric a program can target, with its target (if any) and what was achieved,
    where the programs app measures it: approved asks (all, and reviews, reference calls and
    case studies by the ask's kind), pipeline and revenue won from deal outcomes, and the
    program's active advocates. Three queries."""
    done = Assignment.objects.filter(program=program, state=S.APPROVED).aggregate(
        completions=Count("pk"),
        **{metric: Count("pk", filter=Q(ask__kind=kind)) for metric, kind in COMPLETION_KINDS.items()},
    )
    deals = Outcome.objects.filter(program=program, kind=OutcomeKind.DEAL).aggregate(
        pipeline=Sum("amount"), revenue_won=Sum("amount", filter=Q(deal_status=DealStatus.WON)),
    )
    actual: dict[str, int | Decimal | None] = {
        **done,
        "pipeline": deals["pipeline"] or Decimal(0),
        "revenue_won": deals["revenue_won"] or Decimal(0),
        "active_advocates": Enrollment.objects.filter(program=program, advocate__stage=Stage.ACTIVE).count(),
    }
    targets = program.objectives or {}
    return [
        ObjectiveRow(metric, label, targets.get(metric), actual.get(metric), metric in MONEY_METRICS)
        for metric, label in OBJECTIVE_METRICS.items()
        if metric in targets or metric in actual
    ]
