from django.core.management.base import BaseCommand

from advocacy.scoping import workspace_scope
from programs.rotation import rotate_asks

from ._workspaces import add_workspace_argument, counted, selected_workspaces


class Command(BaseCommand):
    help = ("Offer every open ask with free places to the advocates first in line, as the 15-minute job does "
            "(fatigue rules apply; held-back people are recorded). Safe to rerun.")

    def add_arguments(self, parser):
        add_workspace_argument(parser)

    def handle(self, *args, workspace=None, **options):
        workspaces = selected_workspaces(workspace)
        offers = 0
        for ws in workspaces:
            with workspace_scope(ws):
                result = rotate_asks(workspace=ws)
            if result.skipped:
                self.stdout.write(f"{ws.slug}: skipped, another rotation is under way")
                continue
            offers += result.offers
            self.stdout.write(
                f"{ws.slug}: {counted(result.offers, 'offer')} for {result.asks_served} of {result.asks_open} asks with free "
                f"places, {result.held} held back"
            )
        self.stdout.write(self.style.SUCCESS(f"Rotation done: {counted(offers, 'offer')} in {counted(len(workspaces), 'workspace')}."))
