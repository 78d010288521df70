"""Demo data of the rewards app (called by ``seed_demo``; safe to rerun)."""

from __future__ import annotations

import random
from decimal import Decimal

from advocacy.models import Advocate, Stage, Workspace

from .models import CatalogItem, EntryKind, ItemKind
from .services import credit_points, tier_ladder

CATALOG = [
    ("Coffee gift card", ItemKind.GIFT_CARD, 500, Decimal("10.00"), None, "Sent by email within two working days."),
    ("Company hoodie", ItemKind.SWAG, 1500, Decimal("45.00"), 40, "Shipped to the address you give us."),
    ("Conference pass", ItemKind.EVENT_PASS, 6000, Decimal("600.00"), 5, "We register you and send the ticket."),
    ("Lunch with our CEO", ItemKind.EXPERIENCE, 8000, Decimal("0.00"), 2, "We'll find a date that suits you."),
    ("20% off your renewal", ItemKind.DISCOUNT, 3000, Decimal("0.00"), None, "Applied to your next invoice."),
    ("Donate to Code Club", ItemKind.CHARITY, 1000, Decimal("20.00"), None, "We donate in your name every quarter."),
]
REASONS = [
    (EntryKind.EARN_ASK, "Wrote a review on G2"), (EntryKind.EARN_ASK, "Took a reference call"),
    (EntryKind.EARN_ASK, "Answered in the community"), (EntryKind.EARN_REFERRAL, "Referral converted"),
    (EntryKind.EARN_BONUS, "Welcome bonus"), (EntryKind.EARN_ASK, "Beta feedback session"),
]


def seed(*, workspace: Workspace, rng: random.Random) -> str:
    for name, kind, cost, value, stock, instructions in CATALOG:
        CatalogItem.objects.get_or_create(
            workspace=workspace, name=name,
            defaults={"kind": kind, "cost": cost, "value": value, "stock": stock, "fulfilment_instructions": instructions,
                      "charity_name": "Code Club" if kind == ItemKind.CHARITY else "", "needs_approval": kind != ItemKind.CHARITY},
        )
    tier_ladder(workspace)
    credits = 0
    local = random.Random(7)  # independent of the caller's draws, so reruns pick the same people
    for advocate in Advocate.objects.filter(workspace=workspace, stage__in=[Stage.ACTIVE, Stage.PAUSED, Stage.ALUMNI]).order_by("id"):
        for n in range(local.randint(0, 6)):
            kind, reason = local.choice(REASONS)
            entry = credit_points(advocate=advocate, amount=local.choice([50, 100, 150, 200, 300, 500]), kind=kind,
                                  reason=reason, idempotency_key=f"demo:{advocate.pk}:{n}")
            credits += not entry.replayed
    badges = _seed_badges(workspace)
    return f"{len(CATALOG)} catalog items, {credits} ledger credits added, {badges} badges awarded"


def _seed_badges(workspace: Workspace) -> int:
    """The example badges, and facts for advocates who have none yet (as if programs had
    reported them), which award the badges they earn."""
    from .badges import ensure_default_badges, record_fact
    from .models import AdvocateFact

    ensure_default_badges(workspace)
    local = random.Random(11)
    seen = set(AdvocateFact.objects.filter(workspace=workspace).values_list("advocate_id", flat=True))
    awarded = 0
    for advocate in Advocate.objects.filter(workspace=workspace, stage=Stage.ACTIVE).order_by("id"):
        if advocate.pk in seen:
            continue
        awarded += len(record_fact(advocate=advocate, fact="asks_completed", increment=local.randint(1, 7)))
        if local.random() < 0.4:
            awarded += len(record_fact(advocate=advocate, fact="reviews_completed"))
    return awarded
