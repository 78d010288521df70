from django.core.management.base import BaseCommand

from advocacy.scoping import workspace_scope
from programs.jobs import check_fatigue

from ._workspaces import add_workspace_argument, counted, selected_workspaces


class Command(BaseCommand):
    help = ("The daily fatigue check: pause advocates after 3 declined or expired offers (with a check-in task), "
            "suggest alumni after 180 days without activity, open check-ins after 180 days without a personal "
            "follow-up. Safe to rerun.")

    def add_arguments(self, parser):
        add_workspace_argument(parser)

    def handle(self, *args, workspace=None, **options):
        workspaces = selected_workspaces(workspace)
        for ws in workspaces:
            with workspace_scope(ws):
                result = check_fatigue(workspace=ws)
            self.stdout.write(
                f"{ws.slug}: {result.paused} paused, {counted(result.alumni_suggested, 'alumni suggestion')}, "
                f"{counted(result.check_ins, 'check-in task')}"
            )
        self.stdout.write(self.style.SUCCESS(f"Fatigue check done in {counted(len(workspaces), 'workspace')}."))
