from django.core.management.base import BaseCommand, CommandError

from advocacy.models import Workspace
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards.jobs import expire_points, workspaces_with_expiry


class Command(BaseCommand):
    help = "Expire points older than each workspace's expiry months (oldest first) and send 14-day notices. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Only this workspace (slug).")

    def handle(self, *args, workspace=None, **options):
        with scopes_disabled():
            ids = workspaces_with_expiry()
            workspaces = Workspace.objects.filter(pk__in=ids).order_by("slug")
            if workspace:
                if not Workspace.objects.filter(slug=workspace).exists():
                    raise CommandError(f"No workspace {workspace!r}.")
                workspaces = workspaces.filter(slug=workspace)
            workspaces = list(workspaces)
        for ws in workspaces:
            with workspace_scope(ws):
                result = expire_points(workspace=ws)
            self.stdout.write(
                f"{ws.slug}: {result.expired_entries} expiry entries ({result.expired_points} points), {result.notices} notices sent"
            )
        self.stdout.write(self.style.SUCCESS(f"Expiry done for {len(workspaces)} workspaces with expiring points."))
