from django.core.management.base import BaseCommand
from django.utils import timezone

from advocacy.scoping import workspace_scope
from nps.services import due_surveys, send_round
from programs.management.commands._workspaces import (
    add_workspace_argument,
    counted,
    selected_workspaces,
)


class Command(BaseCommand):
    help = ("Send a round of every active survey that is due, as the hourly job does (the 90-day throttle and the "
            "contact budget apply; held-back people are recorded with the reason). Safe to rerun.")

    def add_arguments(self, parser):
        add_workspace_argument(parser)

    def handle(self, *args, workspace=None, **options):
        workspaces = selected_workspaces(workspace)
        now = timezone.now()
        rounds = 0
        for ws in workspaces:
            with workspace_scope(ws):
                for survey in due_surveys(now=now, workspace=ws):
                    result = send_round(survey=survey)  # each round reads the clock when it starts
                    if result.round == survey.rounds:
                        self.stdout.write(f"{ws.slug}: {survey.name}: skipped, another run sent this round")
                        continue
                    rounds += 1
                    self.stdout.write(f"{ws.slug}: {survey.name} round {result.round}: {counted(result.sent, 'person', 'people')} "
                                      f"sent, {result.held} held back")
        self.stdout.write(self.style.SUCCESS(f"Surveys done: {counted(rounds, 'round')} in {counted(len(workspaces), 'workspace')}."))
