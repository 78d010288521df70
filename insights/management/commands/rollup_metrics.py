from datetime import date

from django.core.management.base import BaseCommand, CommandError

from advocacy.scoping import workspace_scope
from insights.periods import EARLIEST, LATEST
from insights.rollups import MAX_DAYS, local_today, rollup_days
from programs.management.commands._workspaces import (
    add_workspace_argument,
    counted,
    selected_workspaces,
)


def _date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        if len(value) != 10 or not value.isascii():
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name} must be a date as YYYY-MM-DD, e.g. 2025-03-01 (got {value!r}).") from None
    if not EARLIEST <= day <= LATEST:
        raise CommandError(f"--{name} must be between {EARLIEST} and {LATEST} (got {value}).")
    return day


class Command(BaseCommand):
    help = ("Recompute the daily metric rollups (every metric of the workspace and of each program, and the "
            "per-person days) of the given days whole, as the hourly and nightly jobs do for today and yesterday. "
            "Without dates: today (in each workspace's time zone). Safe to rerun: a rerun leaves identical rows, "
            "and a backfill (--from/--to) picks up late events.")

    def add_arguments(self, parser):
        add_workspace_argument(parser)
        parser.add_argument("--from", dest="date_from", help="First day, YYYY-MM-DD (default: today, or --to).")
        parser.add_argument("--to", dest="date_to", help="Last day, YYYY-MM-DD (default: today, or --from).")

    def handle(self, *args, workspace=None, date_from=None, date_to=None, **options):
        start, end = _date(date_from, "from"), _date(date_to, "to")
        if start and end and start > end:
            raise CommandError(f"--from ({start}) is after --to ({end}).")
        if start and end and (end - start).days + 1 > MAX_DAYS:
            raise CommandError(f"At most {MAX_DAYS} days (3 years) at a time; split the backfill.")
        workspaces = selected_workspaces(workspace)
        total = 0
        for ws in workspaces:
            with workspace_scope(ws):
                today = local_today(ws)
                first = start or end or today  # one date given: that day alone
                last = end or start or today
                days = rollup_days(workspace=ws, start=first, end=last)
            total += days
            span = f"{first}" if first == last else f"{first} to {last}"
            self.stdout.write(f"{ws.slug}: {counted(days, 'day')} rolled up ({span})")
        self.stdout.write(self.style.SUCCESS(
            f"Rollups done in {counted(len(workspaces), 'workspace')}: {counted(total, 'day')}."))
