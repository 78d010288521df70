from django.core.management.base import BaseCommand

from advocacy.scoping import workspace_scope
from programs.services import expire_assignments, send_reminders

from ._workspaces import add_workspace_argument, counted, selected_workspaces


class Command(BaseCommand):
    help = ("Expire offers not taken within 7 days and work whose ask's deadline passed, then remind advocates "
            "of offers that expire within two days (once each), as the hourly jobs do. Safe to rerun.")

    def add_arguments(self, parser):
        add_workspace_argument(parser)
        parser.add_argument("--no-reminders", action="store_true", help="Only expire; send no reminders.")

    def handle(self, *args, workspace=None, no_reminders=False, **options):
        workspaces = selected_workspaces(workspace)
        expired = reminded = 0
        for ws in workspaces:
            with workspace_scope(ws):
                n = expire_assignments(workspace=ws)
                r = 0 if no_reminders else send_reminders(workspace=ws)
            expired, reminded = expired + n, reminded + r
            self.stdout.write(f"{ws.slug}: {counted(n, 'assignment')} expired, {counted(r, 'reminder')} sent")
        self.stdout.write(self.style.SUCCESS(
            f"Expiry done in {counted(len(workspaces), 'workspace')}: {expired} expired, {counted(reminded, 'reminder')}."))
