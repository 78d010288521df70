from django.core.management.base import BaseCommand

from advocacy.scoping import workspace_scope
from insights.scores import recompute_scores
from programs.management.commands._workspaces import (
    add_workspace_argument,
    counted,
    selected_workspaces,
)


class Command(BaseCommand):
    help = ("Recompute every advocate's advocacy score and its breakdown from NPS, tenure, engagement, public proof, "
            "referrals, asks and recency, weighted by each workspace's settings (the nightly job). Safe to rerun.")

    def add_arguments(self, parser):
        add_workspace_argument(parser)

    def handle(self, *args, workspace=None, **options):
        workspaces = selected_workspaces(workspace)
        total = 0
        for ws in workspaces:
            with workspace_scope(ws):
                n = recompute_scores(workspace=ws)
            total += n
            self.stdout.write(f"{ws.slug}: {counted(n, 'score')} recomputed")
        self.stdout.write(self.style.SUCCESS(
            f"Scores recomputed: {counted(total, 'advocate')} in {counted(len(workspaces), 'workspace')}."))
