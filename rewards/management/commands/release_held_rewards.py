from django.core.management.base import BaseCommand, CommandError

from advocacy.models import Workspace
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards.jobs import release_due_rewards


class Command(BaseCommand):
    help = "Credit every held reward whose hold period is over. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Only this workspace (slug).")

    def handle(self, *args, workspace=None, **options):
        with scopes_disabled():
            workspaces = Workspace.objects.order_by("slug")
            if workspace:
                workspaces = workspaces.filter(slug=workspace)
                if not workspaces.exists():
                    raise CommandError(f"No workspace {workspace!r}.")
            workspaces = list(workspaces)
        total = 0
        for ws in workspaces:
            with workspace_scope(ws):
                released = release_due_rewards(workspace=ws)
            if released:
                self.stdout.write(f"{ws.slug}: {released} held rewards released")
            total += released
        self.stdout.write(self.style.SUCCESS(f"Released {total} held rewards."))
