"""Manager pages of the ledger: the points card on the advocate page, the advocate's history
with the adjustment form (managers only, reason required, audited, exactly once per form),
the workspace ledger with filters and CSV, and the reward settings (owners change them)."""

from __future__ import annotations

import pytest

from advocacy.models import Advocate, AuditLog
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards.models import EntryKind, HeldReward, LedgerEntry, RewardSettings, Tier
from rewards.services import credit_points

pytestmark = pytest.mark.django_db


def credit(advocate, amount, key, kind=EntryKind.EARN_BONUS, reason="Review posted"):
    with workspace_scope(advocate.workspace):
        return credit_points(advocate=advocate, amount=amount, kind=kind, reason=reason, idempotency_key=key)


def ledger_url(tenant, advocate=None):
    return f"/w/{tenant.workspace.slug}/rewards/advocates/{(advocate or tenant.advocate).pk}/ledger/"


def settings_url(tenant):
    return f"/w/{tenant.workspace.slug}/rewards/settings/"


def form_key(response) -> str:
    return response.context["form"]["idempotency_key"].value()


def balance(advocate) -> int:
    with scopes_disabled():
        return Advocate.objects.get(pk=advocate.pk).points_balance


def test_advocate_page_shows_a_points_card_linking_to_the_history(client, tenant_a):
    credit(tenant_a.advocate, 1200, "k")
    with scopes_disabled():
        HeldReward.objects.create(workspace=tenant_a.workspace, advocate=tenant_a.advocate, kind=EntryKind.EARN_REFERRAL,
                                  amount=300, reason="Referral", held_because="30-day referral hold",
                                  idempotency_key="h", release_at="2099-01-01T00:00:00Z")
    client.force_login(tenant_a.viewer)
    html = client.get(f"/w/{tenant_a.workspace.slug}/advocates/{tenant_a.advocate.pk}/").content.decode()
    assert "<h2>Points</h2>" in html and "Insider" in html and "30-day referral hold" in html
    assert ledger_url(tenant_a) in html


def test_viewer_reads_the_history_but_gets_no_adjustment_form(client, tenant_a):
    credit(tenant_a.advocate, 40, "k", reason="First review")
    client.force_login(tenant_a.viewer)
    response = client.get(ledger_url(tenant_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert "First review" in html and "Adjust points" not in html


def test_viewer_cannot_adjust(client, tenant_a):
    client.force_login(tenant_a.viewer)
    response = client.post(ledger_url(tenant_a), {"amount": "50", "reason": "x", "idempotency_key": "5b0c1a43-5d7e-4f47-9d51-0d8c1f5a2b11"})
    assert response.status_code == 403
    assert balance(tenant_a.advocate) == 0


def test_manager_adjusts_with_a_reason_and_it_is_audited(client, tenant_a, no_scopes):
    client.force_login(tenant_a.manager)
    page = client.get(ledger_url(tenant_a))
    response = client.post(ledger_url(tenant_a), {"amount": "75", "reason": "Spoke at our webinar", "idempotency_key": form_key(page)})
    assert response.status_code == 302
    entry = LedgerEntry.objects.get(advocate=tenant_a.advocate)
    assert (entry.kind, entry.amount, entry.reason, entry.actor) == ("adjust", 75, "Spoke at our webinar", tenant_a.manager)
    assert AuditLog.objects.filter(action="points.adjusted", advocate=tenant_a.advocate, actor=tenant_a.manager).count() == 1
    html = client.get(ledger_url(tenant_a)).content.decode()
    assert "Spoke at our webinar" in html and "manager@alpha.example" in html


def test_a_double_submitted_adjustment_form_credits_once(client, tenant_a, no_scopes):
    client.force_login(tenant_a.manager)
    key = form_key(client.get(ledger_url(tenant_a)))
    data = {"amount": "100", "reason": "Goodwill", "idempotency_key": key}
    client.post(ledger_url(tenant_a), data)
    second = client.post(ledger_url(tenant_a), data, follow=True)
    assert "already recorded" in second.content.decode()
    assert balance(tenant_a.advocate) == 100
    assert LedgerEntry.objects.filter(advocate=tenant_a.advocate).count() == 1
    assert AuditLog.objects.filter(action="points.adjusted").count() == 1


def test_each_rendered_form_has_its_own_key(client, tenant_a):
    client.force_login(tenant_a.manager)
    assert form_key(client.get(ledger_url(tenant_a))) != form_key(client.get(ledger_url(tenant_a)))


@pytest.mark.parametrize("data", [
    {"amount": "10", "reason": ""},
    {"amount": "0", "reason": "zero"},
    {"amount": "ten", "reason": "x"},
    {"amount": "10", "reason": "x", "idempotency_key": "not-a-uuid"},
])
def test_an_invalid_adjustment_form_changes_nothing(client, tenant_a, data):
    client.force_login(tenant_a.manager)
    data = {"idempotency_key": "5b0c1a43-5d7e-4f47-9d51-0d8c1f5a2b11", **data}
    assert client.post(ledger_url(tenant_a), data).status_code == 400
    assert balance(tenant_a.advocate) == 0


def test_taking_away_more_than_the_balance_is_refused_with_a_message(client, tenant_a):
    credit(tenant_a.advocate, 20, "k")
    client.force_login(tenant_a.manager)
    response = client.post(ledger_url(tenant_a), {"amount": "-21", "reason": "oops", "idempotency_key": "5b0c1a43-5d7e-4f47-9d51-0d8c1f5a2b11"})
    assert response.status_code == 400
    assert "Not enough points" in response.content.decode()
    assert balance(tenant_a.advocate) == 20


def test_workspace_ledger_lists_and_filters_entries(client, tenant_a, tenant_b):
    other = Advocate.objects.with_scopes_disabled().create(workspace=tenant_a.workspace, email="other@x.com", name="Other One")
    credit(tenant_a.advocate, 10, "a", reason="Alpha review")
    credit(other, 20, "o", kind=EntryKind.EARN_ASK, reason="Other ask")
    credit(tenant_b.advocate, 30, "b", reason="Beta secret")
    client.force_login(tenant_a.viewer)
    url = f"/w/{tenant_a.workspace.slug}/rewards/ledger/"
    html = client.get(url).content.decode()
    assert "Alpha review" in html and "Other ask" in html and "Beta secret" not in html
    by_kind = client.get(url, {"kind": "earn_ask"}).content.decode()
    assert "Other ask" in by_kind and "Alpha review" not in by_kind
    by_advocate = client.get(url, {"advocate": tenant_a.advocate.pk}).content.decode()
    assert "Alpha review" in by_advocate and "Other ask" not in by_advocate
    assert client.get(url, {"advocate": "garbage", "kind": "nope", "page": "x"}).status_code == 200


def test_ledger_csv_export_holds_the_filtered_entries(client, tenant_a, tenant_b):
    credit(tenant_a.advocate, 10, "a", reason="=HYPERLINK(1)")
    credit(tenant_a.advocate, 5, "b", kind=EntryKind.EARN_ASK, reason="Ask done")
    credit(tenant_b.advocate, 30, "c", reason="Beta secret")
    client.force_login(tenant_a.viewer)
    response = client.get(f"/w/{tenant_a.workspace.slug}/rewards/ledger/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[0].startswith("id,created_at,advocate_id")
    assert len(rows) == 3 and "Beta secret" not in "".join(rows)
    assert any("'=HYPERLINK(1)" in r for r in rows)
    filtered = client.get(f"/w/{tenant_a.workspace.slug}/rewards/ledger/export.csv", {"kind": "earn_ask"})
    assert len(b"".join(filtered.streaming_content).decode().splitlines()) == 2


# --- reward settings ----------------------------------------------------------------------------


def tier_rows(tiers) -> dict:
    data = {"tiers-TOTAL_FORMS": str(len(tiers)), "tiers-INITIAL_FORMS": "0", "tiers-MIN_NUM_FORMS": "0", "tiers-MAX_NUM_FORMS": "1000"}
    for i, (name, threshold, perks) in enumerate(tiers):
        data.update({f"tiers-{i}-name": name, f"tiers-{i}-threshold": str(threshold), f"tiers-{i}-perks": perks})
    return data


SETTINGS = {"points_expire_after_months": "12", "yearly_value_cap": "600.00", "referral_hold_days": "14"}
LADDER = [("Bronze", 0, "Hello"), ("Silver", 500, "Swag"), ("Gold", 2000, "Summit")]


def test_owner_saves_expiry_cap_hold_and_the_tier_ladder(client, tenant_a, no_scopes):
    client.force_login(tenant_a.owner)
    assert client.get(settings_url(tenant_a)).status_code == 200
    response = client.post(settings_url(tenant_a), {**SETTINGS, **tier_rows(LADDER)})
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = RewardSettings.objects.get(workspace=tenant_a.workspace)
    assert (saved.points_expire_after_months, str(saved.yearly_value_cap), saved.referral_hold_days) == (12, "600.00", 14)
    assert list(Tier.objects.filter(workspace=tenant_a.workspace).values_list("name", "threshold")) == [("Bronze", 0), ("Silver", 500), ("Gold", 2000)]
    assert AuditLog.objects.filter(action="rewards.settings_changed", actor=tenant_a.owner).count() == 1


def test_empty_expiry_months_turns_expiry_off(client, tenant_a, no_scopes):
    client.force_login(tenant_a.owner)
    client.post(settings_url(tenant_a), {**SETTINGS, **tier_rows(LADDER)})
    client.post(settings_url(tenant_a), {**SETTINGS, "points_expire_after_months": "", **tier_rows(LADDER)})
    assert RewardSettings.objects.get(workspace=tenant_a.workspace).points_expire_after_months is None


@pytest.mark.parametrize("ladder, message", [
    ([("Bronze", 10, ""), ("Silver", 500, "")], "tier at 0"),
    ([("Bronze", 0, ""), ("Silver", 500, ""), ("Gold", 500, "")], "same threshold"),
    ([("Bronze", 0, ""), ("Bronze", 500, "")], "same name"),
])
def test_a_ladder_without_a_zero_tier_or_with_duplicates_is_refused(client, tenant_a, ladder, message, no_scopes):
    client.force_login(tenant_a.owner)
    response = client.post(settings_url(tenant_a), {**SETTINGS, **tier_rows(ladder)})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not RewardSettings.objects.filter(workspace=tenant_a.workspace).exists()


def test_managers_read_the_settings_but_only_owners_change_them(client, tenant_a, no_scopes):
    client.force_login(tenant_a.manager)
    assert client.get(settings_url(tenant_a)).status_code == 200
    assert client.post(settings_url(tenant_a), {**SETTINGS, **tier_rows(LADDER)}).status_code == 403
    client.force_login(tenant_a.viewer)
    assert client.get(settings_url(tenant_a)).status_code == 403
    assert not RewardSettings.objects.filter(workspace=tenant_a.workspace).exists()
