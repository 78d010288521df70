"""Redemptions: points debited and stock reserved at once, refusals that keep nothing, the
transitions of one table, a refund exactly once, and the acceptance race on Postgres."""

from __future__ import annotations

from decimal import Decimal

import pytest

from advocacy.errors import InvalidTransition, ValidationFailed
from advocacy.models import Advocate, AuditLog
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards import redemptions as svc
from rewards.models import EntryKind, ItemKind, LedgerEntry, Redemption, RewardSettings
from rewards.queries import ledger_mismatches
from rewards.services import NotEnoughPoints
from tests.concurrency import race
from tests.rewards.helpers import credit, make_item

Status = Redemption.Status


def reload(obj):
    with scopes_disabled():
        return type(obj).objects.get(pk=obj.pk)


def redeem(advocate, item, actor=None):
    with workspace_scope(advocate.workspace):
        return svc.redeem(advocate=advocate, item=item, actor=actor)


def act(fn, redemption, actor, **kwargs):
    with workspace_scope(redemption.advocate.workspace if hasattr(redemption, "advocate") else None):
        return fn(redemption=redemption, actor=actor, **kwargs)


def entries(advocate):
    with scopes_disabled():
        return list(LedgerEntry.objects.filter(advocate=advocate).order_by("id").values_list("kind", "amount"))


# --- redeem -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_redeeming_debits_the_cost_reserves_stock_and_links_the_entry(tenant_a):
    a = tenant_a.advocate
    credit(a, 250)
    item = make_item(a.workspace, stock=3, value=Decimal("20"))
    r = redeem(a, item, tenant_a.manager)
    r = reload(r)
    assert (r.status, r.points, r.value) == (Status.REQUESTED, 100, Decimal("20"))
    assert reload(a).points_balance == 150
    assert reload(item).stock == 2
    with scopes_disabled():
        debit = LedgerEntry.objects.get(pk=r.debit_entry_id)
    assert (debit.kind, debit.amount, debit.idempotency_key, debit.cause) == (EntryKind.REDEEM, -100, f"redeem:{r.pk}", f"redemption:{r.pk}")


@pytest.mark.django_db
def test_a_charity_item_is_debited_as_a_donation_and_totalled_per_charity(tenant_a):
    a = tenant_a.advocate
    credit(a, 1000)
    trees = make_item(a.workspace, name="Plant trees", kind=ItemKind.CHARITY, charity_name="Trees Inc", cost=100)
    water = make_item(a.workspace, name="Clean water", kind=ItemKind.CHARITY, charity_name="Water Org", cost=300, needs_approval=False)
    redeem(a, trees)
    rejected = redeem(a, trees)
    redeem(a, water)
    act(svc.reject, rejected, tenant_a.manager, reason="duplicate")
    assert entries(a)[1] == (EntryKind.DONATE, -100)
    with scopes_disabled():
        totals = svc.charity_totals(a.workspace)
    assert [(t["charity"], t["points"], t["donations"]) for t in totals] == [("Water Org", 300, 1), ("Trees Inc", 100, 1)]


@pytest.mark.django_db
def test_an_item_without_approval_starts_approved(tenant_a):
    a = tenant_a.advocate
    credit(a, 100)
    r = redeem(a, make_item(a.workspace, needs_approval=False))
    assert reload(r).status == Status.APPROVED


@pytest.mark.django_db
def test_too_few_points_is_refused_and_keeps_nothing(tenant_a):
    a = tenant_a.advocate
    credit(a, 99)
    item = make_item(a.workspace, stock=5)
    with pytest.raises(NotEnoughPoints, match="it costs 100 points and the balance is 99"):
        redeem(a, item)
    assert reload(item).stock == 5 and reload(a).points_balance == 99
    with scopes_disabled():
        assert not Redemption.objects.exists()


@pytest.mark.django_db
def test_out_of_stock_is_refused_and_keeps_nothing(tenant_a):
    a = tenant_a.advocate
    credit(a, 500)
    item = make_item(a.workspace, stock=1)
    redeem(a, item)
    with pytest.raises(svc.OutOfStock, match=r"“Mug” is out of stock\."):
        redeem(a, item)
    assert reload(a).points_balance == 400 and reload(item).stock == 0


@pytest.mark.django_db
def test_the_per_advocate_limit_counts_only_redemptions_not_refunded(tenant_a):
    a = tenant_a.advocate
    credit(a, 500)
    item = make_item(a.workspace, per_advocate_limit=1)
    first = redeem(a, item)
    with pytest.raises(svc.OverLimit, match="at most 1 time per advocate"):
        redeem(a, item)
    act(svc.cancel, first, tenant_a.manager, reason="changed their mind")
    redeem(a, item)  # the cancelled one no longer counts
    assert reload(a).points_balance == 400


@pytest.mark.django_db
def test_the_yearly_value_cap_refuses_what_would_exceed_it(tenant_a):
    a = tenant_a.advocate
    credit(a, 1000)
    RewardSettings.objects.with_scopes_disabled().create(workspace=a.workspace, yearly_value_cap=Decimal("50"))
    card = make_item(a.workspace, name="Gift card", kind=ItemKind.GIFT_CARD, value=Decimal("30"))
    redeem(a, card)
    with pytest.raises(svc.OverYearlyCap, match=r"the limit is 50\.00 per year"):
        redeem(a, card)
    sticker = make_item(a.workspace, name="Sticker", value=Decimal("0"), cost=10)
    redeem(a, sticker)  # no value: never capped
    assert reload(a).points_balance == 890


@pytest.mark.django_db
def test_an_inactive_item_is_refused(tenant_a):
    a = tenant_a.advocate
    credit(a, 500)
    with pytest.raises(svc.ItemUnavailable, match="no longer available"):
        redeem(a, make_item(a.workspace, active=False))


# --- transitions --------------------------------------------------------------------------


@pytest.mark.django_db
def test_requested_is_approved_then_fulfilled_with_a_note_and_the_advocate_is_emailed(tenant_a, mailoutbox, django_capture_on_commit_callbacks):
    a = tenant_a.advocate
    credit(a, 100)
    r = redeem(a, make_item(a.workspace))
    with django_capture_on_commit_callbacks(execute=True):
        act(svc.approve, r, tenant_a.manager)
        done = act(svc.fulfil, r, tenant_a.manager, note="Code: MUG-123")
    assert (done.status, done.fulfilment_note) == (Status.FULFILLED, "Code: MUG-123")
    assert [m.subject for m in mailoutbox] == ["Your reward is on its way: Mug"]
    assert "Code: MUG-123" in mailoutbox[0].body
    with scopes_disabled():
        assert list(AuditLog.objects.filter(workspace=a.workspace, action__startswith="redemption.").values_list("action", flat=True).order_by("id")) == [
            "redemption.requested", "redemption.approved", "redemption.fulfilled",
        ]


@pytest.mark.django_db
def test_a_rejection_refunds_restores_stock_and_emails_the_reason(tenant_a, mailoutbox, django_capture_on_commit_callbacks):
    a = tenant_a.advocate
    credit(a, 100)
    item = make_item(a.workspace, stock=1)
    r = redeem(a, item)
    with django_capture_on_commit_callbacks(execute=True):
        done = act(svc.reject, r, tenant_a.manager, reason="Not available in your country")
    assert done.status == Status.REJECTED and done.reason == "Not available in your country"
    assert reload(a).points_balance == 100 and reload(item).stock == 1
    assert entries(a)[-1] == (EntryKind.REFUND, 100)
    assert [m.subject for m in mailoutbox] == ["Your reward request was not approved: Mug"]
    assert "Not available in your country" in mailoutbox[0].body and "100 points were refunded" in mailoutbox[0].body


@pytest.mark.django_db
def test_no_email_when_the_advocate_does_not_take_email(tenant_a, mailoutbox, django_capture_on_commit_callbacks):
    a = tenant_a.advocate
    Advocate.objects.with_scopes_disabled().filter(pk=a.pk).update(channels=["portal"])
    credit(a, 100)
    r = redeem(a, make_item(a.workspace))
    with django_capture_on_commit_callbacks(execute=True):
        act(svc.reject, r, tenant_a.manager, reason="no")
    assert mailoutbox == []


@pytest.mark.django_db
@pytest.mark.parametrize(("steps", "illegal"), [
    ([], "fulfil"),                       # requested cannot be fulfilled
    (["approve"], "approve"),             # approved cannot be approved again
    (["approve"], "reject"),              # approved can only be fulfilled or cancelled
    (["approve", "fulfil"], "cancel"),    # fulfilled is final
    (["reject"], "approve"),              # rejected is final
    (["cancel"], "cancel"),               # cancelled is final
])
def test_illegal_transitions_are_refused_with_a_clear_message(tenant_a, steps, illegal):
    a = tenant_a.advocate
    credit(a, 100)
    r = redeem(a, make_item(a.workspace))
    calls = {"approve": (svc.approve, {}), "fulfil": (svc.fulfil, {"note": "x"}), "reject": (svc.reject, {"reason": "x"}),
             "cancel": (svc.cancel, {"reason": "x"})}
    for step in steps:
        fn, kw = calls[step]
        act(fn, r, tenant_a.manager, **kw)
    fn, kw = calls[illegal]
    with pytest.raises(InvalidTransition, match="so it cannot be"):
        act(fn, r, tenant_a.manager, **kw)
    assert reload(a).points_balance == (100 if steps and steps[-1] in ("reject", "cancel") else 0)


@pytest.mark.django_db
def test_a_rejection_needs_a_reason(tenant_a):
    a = tenant_a.advocate
    credit(a, 100)
    r = redeem(a, make_item(a.workspace))
    with pytest.raises(ValidationFailed, match="Give a reason"):
        act(svc.reject, r, tenant_a.manager, reason="  ")
    assert reload(r).status == Status.REQUESTED


@pytest.mark.django_db
def test_repeating_a_rejection_refunds_once(tenant_a):
    a = tenant_a.advocate
    credit(a, 100)
    r = redeem(a, make_item(a.workspace))
    act(svc.reject, r, tenant_a.manager, reason="no")
    with pytest.raises(InvalidTransition):
        act(svc.reject, r, tenant_a.manager, reason="no")
    with pytest.raises(InvalidTransition):
        act(svc.cancel, r, tenant_a.manager, reason="no")
    assert reload(a).points_balance == 100
    assert [k for k, _ in entries(a)].count(EntryKind.REFUND) == 1


# --- races on Postgres --------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_two_hundred_concurrent_redemptions_against_a_balance_for_ten_let_exactly_ten_through(tenant_a):
    a = tenant_a.advocate
    credit(a, 1000)
    item = make_item(a.workspace, cost=100, stock=50)

    results = race(200, lambda i: redeem(a, item))

    succeeded = [r for r in results if isinstance(r, Redemption)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(succeeded) == 10
    assert len(refused) == 190 and all(isinstance(e, NotEnoughPoints) for e in refused), {type(e) for e in refused}
    assert reload(a).points_balance == 0
    with scopes_disabled():
        assert sum(LedgerEntry.objects.filter(advocate=a).values_list("amount", flat=True)) == 0
        assert Redemption.objects.filter(advocate=a).count() == 10
        assert not ledger_mismatches()
    assert reload(item).stock == 40


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_of_the_last_items_never_oversell(tenant_a, tenant_b):
    item = make_item(tenant_a.workspace, cost=10, stock=3)
    from tests.factories import AdvocateFactory

    people = [AdvocateFactory(workspace=tenant_a.workspace) for _ in range(12)]
    for p in people:
        credit(p, 10, f"seed:{p.pk}")
    results = race(12, lambda i: redeem(people[i], item))
    assert sum(isinstance(r, Redemption) for r in results) == 3
    assert all(isinstance(r, svc.OutOfStock) for r in results if isinstance(r, Exception))
    assert reload(item).stock == 0
    with scopes_disabled():
        assert not ledger_mismatches()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("actions", [["reject"] * 20, ["cancel"] * 20, ["reject", "cancel"] * 10])
def test_a_raced_rejection_or_cancellation_refunds_exactly_once(tenant_a, actions):
    a = tenant_a.advocate
    credit(a, 100)
    item = make_item(a.workspace, stock=5)
    r = redeem(a, item)

    def undo(i):
        fn = svc.reject if actions[i] == "reject" else svc.cancel
        with workspace_scope(a.workspace):
            return fn(redemption=r, actor=tenant_a.manager, reason=f"race {i}")

    results = race(len(actions), undo)
    assert sum(isinstance(x, Redemption) for x in results) == 1
    assert all(isinstance(x, InvalidTransition) for x in results if isinstance(x, Exception))
    assert reload(a).points_balance == 100
    assert reload(item).stock == 5
    with scopes_disabled():
        assert LedgerEntry.objects.filter(advocate=a, kind=EntryKind.REFUND).count() == 1
        assert reload(r).refund_entry_id is not None
        assert not ledger_mismatches()
