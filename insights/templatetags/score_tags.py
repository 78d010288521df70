"""The advocacy score on pages: the breakdown rows and the reasons, read from the stored
breakdown (no query)."""

from datetime import datetime

from django import template
from django.utils.dateparse import parse_datetime

from insights.scores import breakdown_rows, score_reasons

register = template.Library()


@register.filter
def score_rows(breakdown) -> list[dict]:
    return breakdown_rows(breakdown)


@register.filter
def top_reasons(advocate, n=3) -> list[str]:
    return score_reasons(advocate, int(n))


@register.filter
def computed_at(breakdown) -> datetime | None:
    raw = breakdown.get("computed_at") if isinstance(breakdown, dict) else None
    return parse_datetime(raw) if isinstance(raw, str) else None
