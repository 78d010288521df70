"""Helpers of the isolation suite: a fingerprint of the whole database, to prove that a
refused request changed nothing, and a POST body that would make any form succeed."""

from __future__ import annotations

from django.apps import apps

from advocacy.scoping import scopes_disabled

# Columns that legitimately move on a read: when a key or a user was last seen.
IGNORED_COLUMNS = {
    "advocacy.ApiKey": {"last_used_at"},
    "advocacy.User": {"last_login"},
}
IGNORED_MODELS = {"sessions.Session"}

HOSTILE_SETTINGS = {
    "name": "Hijacked", "timezone": "UTC", "currency": "EUR", "max_contacts_per_30_days": "9",
    "min_days_between_offers": "1", "rest_days_after_large_ask": "1", "max_reference_calls_per_90_days": "9",
    "detractor_quiet_days": "1", "attribution_window_days": "9",
}


def db_fingerprint() -> dict[str, list[str]]:
    """Every row of every table (but sessions), as text, per model."""
    snapshot: dict[str, list[str]] = {}
    with scopes_disabled():
        for model in apps.get_models():
            label = model._meta.label
            if label in IGNORED_MODELS or not model._meta.managed:
                continue
            ignored = IGNORED_COLUMNS.get(label, set())
            columns = [f.attname for f in model._meta.concrete_fields if f.attname not in ignored]
            snapshot[label] = sorted(repr(row) for row in model._base_manager.values_list(*columns))
    return snapshot


def assert_unchanged(before: dict[str, list[str]], context: str) -> None:
    after = db_fingerprint()
    changed = {
        label: {"added": sorted(set(after[label]) - set(rows))[:3], "removed": sorted(set(rows) - set(after[label]))[:3]}
        for label, rows in before.items()
        if after.get(label) != rows
    }
    assert not changed, f"{context} changed the database: {changed}"


def hostile_form(tenant) -> dict:
    """A POST body that would make any manager or portal form succeed: if a page failed to
    refuse it, the database would change and the fingerprint would catch it."""
    return {
        **HOSTILE_SETTINGS,
        "email": "hijacked@example.com", "company": "Hijack Ltd", "type": "customer", "motivation": "unknown",
        "expressiveness": "unknown", "tags": "hijacked", "stage": "opted_out", "reason": "isolation",
        "confirm": "erase", "role": "viewer", "tag": "hijacked", "mode": "add",
        "advocate": [str(tenant.advocate.pk)], "max_asks_per_month": "0", "channels": ["email"],
        "show_on_leaderboards": "",
    }
