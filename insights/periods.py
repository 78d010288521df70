"""The period a dashboard or the metrics API looks at: whole days in the workspace's time
zone, both ends included.

Pages read ``?period=30d|90d|12m|ytd|custom&from=YYYY-MM-DD&to=YYYY-MM-DD``: a value that is
not understood (an unknown period, a malformed or out-of-range date, ``from`` after ``to``,
a range longer than ``MAX_DAYS``) falls back to something sensible and says so in
``Period.notice`` — never an error. The API is strict instead: ``parse_range`` raises
``ValidationFailed`` (a 400) with the field at fault.

Buckets of a series (``buckets``): ``day``, ``week`` (ISO weeks, Monday first) or ``month``;
the first and last buckets are clipped to the period, so a bucket's ``start`` is the first
day of it inside the period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from advocacy.budget import workspace_zone
from advocacy.errors import ValidationFailed
from advocacy.models import Workspace

PERIODS = [("30d", "Last 30 days"), ("90d", "Last 90 days"), ("12m", "Last 12 months"), ("ytd", "Year to date"),
           ("custom", "From … to …")]
PERIOD_LABELS = dict(PERIODS)
DEFAULT_PERIOD = "30d"
GRANULARITIES = ("day", "week", "month")
MAX_DAYS = 1096  # three years, leap day included
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
_ISO_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z", re.ASCII)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included
    key: str = "custom"
    notice: str = ""  # why the request was not taken as it came (pages show it)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.key in PERIOD_LABELS and self.key != "custom":
            return PERIOD_LABELS[self.key]
        return f"{self.start:%-d %b %Y} to {self.end:%-d %b %Y}"

    def default_granularity(self) -> str:
        """Day up to three months, week up to thirteen months, month beyond."""
        if self.days <= 92:
            return "day"
        if self.days <= 400:
            return "week"
        return "month"


def local_today(workspace: Workspace) -> date:
    """Today in the workspace's time zone (the rollups and the pages share this one)."""
    return timezone.localtime(timezone.now(), workspace_zone(workspace)).date()


def parse_date(text: str | None) -> date | None:
    """``YYYY-MM-DD`` (ASCII digits only) between 2000 and 2100, else None."""
    text = (text or "").strip()
    if not _ISO_DATE.match(text):
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        return None
    return value if EARLIEST <= value <= LATEST else None


def preset(key: str, today: date) -> Period:
    if key == "90d":
        return Period(today - timedelta(days=89), today, key)
    if key == "12m":
        try:
            year_ago = today.replace(year=today.year - 1)
        except ValueError:  # 29 February
            year_ago = today.replace(year=today.year - 1, day=28)
        return Period(year_ago + timedelta(days=1), today, key)
    if key == "ytd":
        return Period(today.replace(month=1, day=1), today, key)
    return Period(today - timedelta(days=29), today, "30d")


def period_from_query(data, workspace: Workspace) -> Period:
    """The period a page asks for; anything not understood falls back with a notice."""
    today = local_today(workspace)
    key = (data.get("period") or "").strip()
    if not key:
        key = "custom" if (data.get("from") or data.get("to")) else DEFAULT_PERIOD
    if key not in PERIOD_LABELS:
        fallback = preset(DEFAULT_PERIOD, today)
        return Period(fallback.start, fallback.end, DEFAULT_PERIOD, "That period was not understood; showing the last 30 days.")
    if key != "custom":
        return preset(key, today)
    raw_from, raw_to = data.get("from"), data.get("to")
    start, end = parse_date(raw_from), parse_date(raw_to)
    notices = []
    if (raw_from and start is None) or (raw_to and end is None):
        notices.append("Dates are YYYY-MM-DD between 2000 and 2100; the rest was ignored.")
    if end is None:
        end = today
    if start is None:
        start = end - timedelta(days=29)
    if start > end:
        start, end = end, start
        notices.append("“From” came after “to”: the two were swapped.")
    if (end - start).days + 1 > MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
        notices.append(f"A period is at most {MAX_DAYS} days (three years): it now starts on {start:%-d %b %Y}.")
    return Period(start, end, "custom", " ".join(notices))


def granularity_from_query(data, period: Period) -> str:
    value = (data.get("granularity") or "").strip()
    return value if value in GRANULARITIES else period.default_granularity()


def parse_range(*, workspace: Workspace, raw_from: str | None, raw_to: str | None, granularity: str | None) -> tuple[Period, str]:
    """The API's strict reading of from, to and granularity (defaults: the last 30 days up
    to today, day granularity); ValidationFailed names each field at fault."""
    errors: dict[str, list[str]] = {}
    start = end = None
    if raw_from not in (None, ""):
        start = parse_date(raw_from)
        if start is None:
            errors["from"] = ["A date as YYYY-MM-DD between 2000-01-01 and 2100-12-31."]
    if raw_to not in (None, ""):
        end = parse_date(raw_to)
        if end is None:
            errors["to"] = ["A date as YYYY-MM-DD between 2000-01-01 and 2100-12-31."]
    grain = (granularity or "day").strip()
    if grain not in GRANULARITIES:
        errors["granularity"] = ["One of day, week, month."]
    if errors:
        raise ValidationFailed("Check the query parameters listed in “fields”.", fields=errors)
    if end is None:
        end = local_today(workspace)
    if start is None:
        start = end - timedelta(days=29)
    if start > end:
        raise ValidationFailed("“from” must not be after “to”.", fields={"from": ["After “to”."]})
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed(f"A range is at most {MAX_DAYS} days.", fields={"from": [f"More than {MAX_DAYS} days before “to”."]})
    return Period(start, end, "custom"), grain


def bucket_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def buckets(period: Period, granularity: str) -> list[tuple[date, date]]:
    """The (first day, last day) of each bucket of the period, clipped to it, in order."""
    found: list[tuple[date, date]] = []
    day = period.start
    while day <= period.end:
        if granularity == "week":
            nxt = bucket_start(day, "week") + timedelta(days=7)
        elif granularity == "month":
            nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            nxt = day + timedelta(days=1)
        last = min(nxt - timedelta(days=1), period.end)
        found.append((day, last))
        day = last + timedelta(days=1)
    return found
