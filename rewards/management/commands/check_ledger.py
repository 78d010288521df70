from django.core.management.base import BaseCommand, CommandError

from advocacy.models import Advocate
from advocacy.scoping import scopes_disabled
from rewards.queries import ledger_mismatches


class Command(BaseCommand):
    help = "Recompute every advocate's balance from the ledger and report each mismatch (exit 1 if any)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Only this workspace (slug).")

    def handle(self, *args, workspace=None, **options):
        with scopes_disabled():
            advocates = Advocate.objects.all()
            if workspace:
                advocates = advocates.filter(workspace__slug=workspace)
            checked = advocates.count()
            mismatches = ledger_mismatches(advocates)
        for m in mismatches:
            self.stdout.write(
                f"MISMATCH workspace={m.workspace_slug} advocate={m.advocate_id} <{m.advocate_email}>: "
                f"cached balance {m.cached_balance}, ledger {m.ledger_balance}; "
                f"cached lifetime {m.cached_lifetime}, ledger {m.ledger_lifetime}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} of {checked} advocates do not match the ledger.")
        self.stdout.write(self.style.SUCCESS(f"Ledger OK: {checked} advocates match their entries."))
