"""Reads of referrals that several pages share: the funnel, the pipeline's rows, an
advocate's referrals and referral rewards, and the coupon pools' counts.

The funnel (PRODUCT.md "Referrals", Metrics) over a period ``[since, until)``:

- clicks: follows of the program's links in the period, flagged ones left out (more than
  20 a minute from one hashed IP on one code are not counted); unique clicks: distinct
  hashed IPs among them;
- leads: referrals created in the period (every state, rejected included, so the funnel
  shows what came in); qualified: those leads that reached ``qualified`` or ``converted``;
- conversions: attributed conversions that occurred in the period, with their revenue per
  currency; conversion rate: the share of the period's leads that converted (a cohort, so
  it never exceeds 100%); None without leads;
- repeat referrers: advocates with two or more of the period's conversions.

Five queries whatever the number of rows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from advocacy.models import Advocate, Workspace
from programs.models import Program

from .models import Click, Conversion, Coupon, Referral, ReferralState

REFERRAL_REWARD_PREFIX = "referral:"


def _period(qs: QuerySet, field: str, since: datetime | None, until: datetime | None) -> QuerySet:
    if since is not None:
        qs = qs.filter(**{f"{field}__gte": since})
    if until is not None:
        qs = qs.filter(**{f"{field}__lt": until})
    return qs


def funnel(workspace: Workspace, *, program: Program | None = None, since: datetime | None = None,
           until: datetime | None = None) -> dict[str, Any]:
    clicks = _period(Click.objects.filter(workspace=workspace, flagged=False), "at", since, until)
    referrals = _period(Referral.objects.filter(workspace=workspace), "created_at", since, until)
    conversions = _period(Conversion.objects.filter(workspace=workspace, attributed=True, referral__isnull=False),
                          "occurred_at", since, until)
    if program is not None:
        clicks = clicks.filter(code__program=program)
        referrals = referrals.filter(program=program)
        conversions = conversions.filter(referral__program=program)

    click_counts = clicks.aggregate(clicks=Count("id"), unique_clicks=Count("ip_hash", distinct=True))
    lead_counts = referrals.aggregate(
        leads=Count("id"),
        qualified=Count("id", filter=Q(state__in=[ReferralState.QUALIFIED, ReferralState.CONVERTED])),
        converted=Count("id", filter=Q(state=ReferralState.CONVERTED)),
        rejected=Count("id", filter=Q(state=ReferralState.REJECTED)),
        flagged=Count("id", filter=~Q(flags=[]) & ~Q(state=ReferralState.REJECTED)),
    )
    revenue_rows = list(conversions.values("currency").annotate(total=Sum("value"), n=Count("id")).order_by("currency"))
    repeat = (conversions.values("referral__advocate").annotate(n=Count("id")).filter(n__gte=2).count())

    leads = lead_counts["leads"]
    rate = round(100 * lead_counts["converted"] / leads, 1) if leads else None
    return {
        "clicks": click_counts["clicks"],
        "unique_clicks": click_counts["unique_clicks"],
        "leads": leads,
        "qualified": lead_counts["qualified"],
        "rejected": lead_counts["rejected"],
        "flagged": lead_counts["flagged"],
        "conversions": sum(r["n"] for r in revenue_rows),
        "conversion_rate": rate,
        "revenue": {r["currency"]: r["total"] or Decimal("0") for r in revenue_rows},
        "repeat_referrers": repeat,
    }


def pipeline(workspace: Workspace, *, state: str = "", flagged: str = "", program: Program | None = None,
             q: str = "", since: datetime | None = None, until: datetime | None = None) -> QuerySet:
    """The pipeline's referrals, newest first, with what each row shows (one query a page).

    ``flagged``: "yes" (flagged and waiting for a decision: not rejected), "no" (no flags),
    "" (any)."""
    rows = _period(Referral.objects.filter(workspace=workspace), "created_at", since, until)
    if state:
        rows = rows.filter(state=state)
    if flagged == "yes":
        rows = rows.exclude(flags=[]).exclude(state=ReferralState.REJECTED)
    elif flagged == "no":
        rows = rows.filter(flags=[])
    if program is not None:
        rows = rows.filter(program=program)
    if q:
        rows = rows.filter(referee_email__icontains=q)
    return (rows.select_related("advocate", "program", "code", "conversion")
            .order_by("-created_at", "-id"))


def advocate_referrals(advocate: Advocate) -> QuerySet:
    """The advocate's own referrals, newest first, with their program."""
    return (Referral.objects.filter(workspace_id=advocate.workspace_id, advocate=advocate)
            .select_related("program", "conversion").order_by("-created_at", "-id"))


def referral_id_of_key(key: str) -> int | None:
    """``referral:<id>:<side>`` → id (the idempotency key of a referral's held reward)."""
    parts = key.split(":")
    if len(parts) >= 2 and parts[0] == "referral" and parts[1].isascii() and parts[1].isdigit():
        return int(parts[1])
    return None


def flag_labels(flags: list) -> list[dict[str, str]]:
    """Flags as the advocate reads them: the rule in words and its reason."""
    return [{"rule": str(f.get("rule", "")).replace("_", " "), "reason": str(f.get("reason", ""))}
            for f in flags or [] if isinstance(f, dict)]


def advocate_referral_rewards(advocate: Advocate) -> list[dict[str, Any]]:
    """The advocate's referral rewards with their status and why: each held reward whose
    key starts with ``referral:`` (held until a date, released, cancelled), and each of
    their converted referrals whose reward waits on a flag (the rule and its reason). Rewards know nothing of referrals; the link is the idempotency key."""
    from rewards.models import HeldReward

    held = list(HeldReward.objects.filter(
        workspace_id=advocate.workspace_id, advocate=advocate, idempotency_key__startswith=REFERRAL_REWARD_PREFIX,
    ).order_by("-created_at", "-id"))
    ids = {rid for h in held if (rid := referral_id_of_key(h.idempotency_key)) is not None}
    referrals = {r.pk: r for r in Referral.objects.filter(workspace_id=advocate.workspace_id, pk__in=ids).select_related("program")}
    rows: list[dict[str, Any]] = []
    for h in held:
        referral = referrals.get(referral_id_of_key(h.idempotency_key) or 0)
        side = "referee" if h.idempotency_key.endswith(":referee") else "referrer"
        rows.append({"at": h.created_at, "amount": h.amount, "status": h.status, "release_at": h.release_at,
                     "held_because": h.held_because, "reason": h.reason, "referral": referral, "side": side,
                     "flags": flag_labels(referral.flags) if referral is not None and side == "referrer" else []})
    waiting = (Referral.objects.filter(workspace_id=advocate.workspace_id, advocate=advocate, state=ReferralState.CONVERTED)
               .exclude(flags=[]).exclude(pk__in=ids)
               .select_related("program").order_by("-created_at", "-id"))
    for r in waiting:
        rows.append({"at": r.created_at, "amount": None, "status": "flagged", "release_at": None, "held_because": "",
                     "reason": "", "referral": r, "side": "referrer", "flags": flag_labels(r.flags)})
    rows.sort(key=lambda row: row["at"], reverse=True)
    return rows


def free_coupons(workspace: Workspace) -> dict[int, int]:
    """Free coupon codes per program id (one query)."""
    return dict(Coupon.objects.filter(workspace=workspace, referral__isnull=True)
                .values_list("program").annotate(n=Count("id")).values_list("program", "n"))


def available_actions(referral: Referral) -> list[str]:
    """The manager's actions the pages offer on a referral (the services decide; a stale
    page gets their refusal): approve a flagged one (a converted one too: its rewards wait
    on the flags), qualify an unflagged lead, reject an open one."""
    if referral.state == ReferralState.REJECTED:
        return []
    actions = ["approve"] if referral.flags else []
    if referral.state == ReferralState.LEAD and not referral.flags:
        actions.append("qualify")
    if referral.state in (ReferralState.LEAD, ReferralState.QUALIFIED):
        actions.append("reject")
    return actions
