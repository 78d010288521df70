import pytest
from django.core.management import call_command

from advocacy.scoping import scopes_disabled
from rewards.models import CatalogItem, LedgerEntry


@pytest.mark.django_db
def test_check_ledger_exits_zero_on_the_seeded_demo_and_a_rerun_adds_no_points(capsys):
    call_command("seed_demo", advocates=60)
    with scopes_disabled():
        entries, items = LedgerEntry.objects.count(), CatalogItem.objects.count()
    assert entries > 0 and items == 6
    call_command("seed_demo", advocates=60)
    with scopes_disabled():
        assert (LedgerEntry.objects.count(), CatalogItem.objects.count()) == (entries, items)
    call_command("check_ledger")
    assert "Ledger OK" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_seeding_the_demo_sends_no_email(mailoutbox):
    # Real commits: the on-commit callbacks (promotion and badge emails) run as they would.
    call_command("seed_demo", advocates=60)
    assert mailoutbox == []
