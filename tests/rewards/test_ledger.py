"""The ledger: append-only in the database, exactly once per key, never below zero, and
``check_ledger`` proves the cached balances."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from advocacy.models import Advocate
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards.models import EntryKind, LedgerEntry
from rewards.queries import ledger_mismatches
from rewards.services import (
    NotEnoughPoints,
    adjust_points,
    credit_points,
    debit_points,
    tier_progress,
)
from tests.concurrency import errors_of, race


def credit(advocate, amount, key, kind=EntryKind.EARN_BONUS):
    with workspace_scope(advocate.workspace):
        return credit_points(advocate=advocate, amount=amount, kind=kind, reason="test", idempotency_key=key)


def reload(advocate):
    with scopes_disabled():
        return Advocate.objects.get(pk=advocate.pk)


@pytest.mark.django_db
def test_credit_and_debit_move_the_balance_and_record_balance_after(tenant_a):
    a = tenant_a.advocate
    first = credit(a, 300, "k1")
    with workspace_scope(a.workspace):
        spent = debit_points(advocate=a, amount=120, kind=EntryKind.REDEEM, reason="mug", idempotency_key="k2")
    assert (first.amount, first.balance_after) == (300, 300)
    assert (spent.amount, spent.balance_after) == (-120, 180)
    assert (reload(a).points_balance, reload(a).lifetime_points) == (180, 300)


@pytest.mark.django_db
def test_repeating_a_credit_with_the_same_key_returns_the_first_entry(tenant_a):
    a = tenant_a.advocate
    first = credit(a, 100, "same")
    again = credit(a, 100, "same")
    assert again.pk == first.pk and again.replayed
    assert reload(a).points_balance == 100


@pytest.mark.django_db
def test_a_debit_larger_than_the_balance_is_refused_and_changes_nothing(tenant_a):
    a = tenant_a.advocate
    credit(a, 50, "k")
    with workspace_scope(a.workspace), pytest.raises(NotEnoughPoints, match="needs 51"):
        debit_points(advocate=a, amount=51, kind=EntryKind.REDEEM, reason="x", idempotency_key="d")
    assert reload(a).points_balance == 50
    with scopes_disabled():
        assert LedgerEntry.objects.filter(advocate=a).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, -5, 10_000_001, 1.5, True])
def test_amounts_outside_whole_positive_points_are_refused(tenant_a, amount):
    from advocacy.errors import ValidationFailed

    with workspace_scope(tenant_a.workspace), pytest.raises(ValidationFailed):
        credit_points(advocate=tenant_a.advocate, amount=amount, kind=EntryKind.EARN_BONUS, reason="x", idempotency_key="k")


@pytest.mark.django_db
@pytest.mark.parametrize("sql", ["UPDATE rewards_ledgerentry SET amount = 1000", "DELETE FROM rewards_ledgerentry"])
def test_the_database_refuses_to_update_or_delete_ledger_rows(tenant_a, sql):
    credit(tenant_a.advocate, 10, "k")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    with scopes_disabled():
        assert list(LedgerEntry.objects.values_list("amount", flat=True)) == [10]


@pytest.mark.django_db
def test_manual_adjustment_needs_a_reason_is_audited_and_cannot_go_below_zero(tenant_a):
    from advocacy.errors import ValidationFailed
    from advocacy.models import AuditLog

    a = tenant_a.advocate
    with workspace_scope(a.workspace):
        with pytest.raises(ValidationFailed):
            adjust_points(advocate=a, amount=50, reason="  ", actor=tenant_a.manager, idempotency_key="a0")
        adjust_points(advocate=a, amount=50, reason="Missed review", actor=tenant_a.manager, idempotency_key="a1")
        adjust_points(advocate=a, amount=50, reason="Missed review", actor=tenant_a.manager, idempotency_key="a1")
        with pytest.raises(NotEnoughPoints):
            adjust_points(advocate=a, amount=-51, reason="Too much", actor=tenant_a.manager, idempotency_key="a2")
        assert AuditLog.objects.filter(action="points.adjusted", advocate=a).count() == 1
    assert reload(a).points_balance == 50


@pytest.mark.django_db
def test_check_ledger_passes_then_names_the_advocate_whose_cached_balance_was_corrupted(tenant_a, tenant_b, capsys):
    credit(tenant_a.advocate, 70, "k")
    credit(tenant_b.advocate, 30, "k")
    call_command("check_ledger")
    assert "Ledger OK" in capsys.readouterr().out
    with scopes_disabled():
        Advocate.objects.filter(pk=tenant_b.advocate.pk).update(points_balance=31)
    with pytest.raises(CommandError, match="1 of"):
        call_command("check_ledger")
    out = capsys.readouterr().out
    assert f"advocate={tenant_b.advocate.pk} <{tenant_b.advocate.email}>" in out
    assert "cached balance 31, ledger 30" in out
    with scopes_disabled():
        assert [m.advocate_id for m in ledger_mismatches()] == [tenant_b.advocate.pk]


@pytest.mark.django_db
def test_tiers_follow_lifetime_points_so_spending_never_demotes(tenant_a):
    a = tenant_a.advocate
    credit(a, 1200, "k")
    assert reload(a).tier == "Insider"
    with workspace_scope(a.workspace):
        debit_points(advocate=a, amount=1200, kind=EntryKind.REDEEM, reason="gift", idempotency_key="d")
        a = reload(a)
        assert (a.tier, a.points_balance, a.lifetime_points) == ("Insider", 0, 1200)
        progress = tier_progress(a)
    assert (progress.current.name, progress.next.name, progress.points_to_next) == ("Insider", "Champion", 3800)


@pytest.mark.django_db
def test_promotion_to_a_higher_tier_emails_the_advocate(tenant_a, mailoutbox, django_capture_on_commit_callbacks):
    credit(tenant_a.advocate, 10, "first")  # Member: the tier everyone starts in, no email
    with django_capture_on_commit_callbacks(execute=True):
        credit(tenant_a.advocate, 5000, "big")
    assert reload(tenant_a.advocate).tier == "Champion"
    assert [m.subject for m in mailoutbox] == ["You are now Champion in Company ALPHA's advocate program"]


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_credits_with_one_key_write_one_entry(tenant_a):
    a = tenant_a.advocate
    errors = errors_of(race(50, lambda i: credit(a, 25, "one-key")))
    assert errors == []
    with scopes_disabled():
        assert LedgerEntry.objects.filter(advocate=a).count() == 1
    assert reload(a).points_balance == 25


@pytest.mark.django_db(transaction=True)
def test_concurrent_debits_never_overdraw_and_lose_no_point(tenant_a):
    a = tenant_a.advocate
    credit(a, 100, "seed")

    def spend(i):
        with workspace_scope(a.workspace):
            debit_points(advocate=a, amount=10, kind=EntryKind.REDEEM, reason="x", idempotency_key=f"d{i}")

    errors = errors_of(race(40, spend))
    assert len(errors) == 30 and all(isinstance(e, NotEnoughPoints) for e in errors)
    assert reload(a).points_balance == 0
    with scopes_disabled():
        assert not ledger_mismatches()


@pytest.mark.django_db
def test_an_opted_out_advocate_is_not_emailed_about_a_promotion(tenant_a, mailoutbox, django_capture_on_commit_callbacks):
    from advocacy.models import Stage

    credit(tenant_a.advocate, 10, "first")
    with scopes_disabled():
        Advocate.objects.filter(pk=tenant_a.advocate.pk).update(stage=Stage.OPTED_OUT)
    tenant_a.advocate.stage = Stage.OPTED_OUT
    with django_capture_on_commit_callbacks(execute=True):
        credit(tenant_a.advocate, 5000, "big")
    assert reload(tenant_a.advocate).tier == "Champion"
    assert mailoutbox == []
