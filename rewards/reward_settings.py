"""The workspace's reward rules (expiry, yearly cap, referral hold) and its tier ladder:
read and changed here, by the owner, audited in the same transaction."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from advocacy.audit import log_action
from advocacy.errors import ValidationFailed
from advocacy.models import Workspace

from .models import RewardSettings, Tier

SETTING_FIELDS = ("points_expire_after_months", "yearly_value_cap", "referral_hold_days")


def reward_settings(workspace: Workspace) -> RewardSettings:
    """The workspace's settings row (created with the defaults when it has none)."""
    found = RewardSettings.objects.filter(workspace=workspace).first()
    return found or RewardSettings(workspace=workspace)


def validate_ladder(tiers: list[dict]) -> None:
    if not tiers:
        raise ValidationFailed("Keep at least one tier.")
    thresholds = [t["threshold"] for t in tiers]
    names = [t["name"].strip().lower() for t in tiers]
    if len(set(thresholds)) != len(thresholds):
        raise ValidationFailed("Two tiers have the same threshold; each needs its own.")
    if len(set(names)) != len(names):
        raise ValidationFailed("Two tiers have the same name.")
    if 0 not in thresholds:
        raise ValidationFailed("The ladder needs a tier at 0 points: the one every advocate starts in.")


@transaction.atomic
def update_reward_settings(*, workspace: Workspace, actor, changes: dict, tiers: list[dict]) -> RewardSettings:
    """Save the reward rules and replace the tier ladder (``tiers``: dicts of name,
    threshold, perks). Tiers follow lifetime points; a changed ladder applies from the
    next points an advocate earns, and never demotes anyone."""
    validate_ladder(tiers)
    current = RewardSettings.objects.select_for_update().filter(workspace=workspace).first() or RewardSettings(workspace=workspace)
    before = {f: getattr(current, f) for f in SETTING_FIELDS}
    for field in SETTING_FIELDS:
        if field in changes:
            setattr(current, field, changes[field])
    if current.points_expire_after_months == 0:
        current.points_expire_after_months = None
    current.save()
    after = {f: getattr(current, f) for f in SETTING_FIELDS}

    old_ladder = [(t.name, t.threshold, t.perks) for t in Tier.objects.filter(workspace=workspace).order_by("threshold")]
    new_ladder = sorted(((t["name"].strip(), t["threshold"], (t.get("perks") or "").strip()) for t in tiers), key=lambda t: t[1])
    if old_ladder != new_ladder:
        Tier.objects.filter(workspace=workspace).delete()
        Tier.objects.bulk_create([Tier(workspace=workspace, name=n, threshold=th, perks=p) for n, th, p in new_ladder])

    changed = {f: [_plain(before[f]), _plain(after[f])] for f in SETTING_FIELDS if before[f] != after[f]}
    if changed or old_ladder != new_ladder:
        parts = [f"{f.replace('_', ' ')}: {a} → {b}" for f, (a, b) in changed.items()]
        if old_ladder != new_ladder:
            parts.append("tiers: " + ", ".join(f"{n} {th:,}" for n, th, _ in new_ladder))
        log_action(workspace=workspace, actor=actor, action="rewards.settings_changed",
                   message="Reward settings changed: " + "; ".join(parts),
                   data={"changes": changed, "tiers": [[n, th] for n, th, _ in new_ladder]})
    return current


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value
