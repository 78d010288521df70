"""Reads shared by the manager pages, the portal and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet

from .models import (
    ActivityEvent,
    Advocate,
    AdvocateType,
    AuditLog,
    EventKind,
    Expressiveness,
    Motivation,
    Stage,
)

ADVOCATE_ORDERINGS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "email": ("email",),
    "-email": ("-email",),
    "score": ("score", "id"),
    "-score": ("-score", "id"),
    # Never-active people sort last both ways (Postgres would put NULLs first when descending).
    "last_activity": (F("last_activity_at").asc(nulls_last=True), "id"),
    "-last_activity": (F("last_activity_at").desc(nulls_last=True), "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "stage": ("stage", "name", "id"),
}


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC. An offset Postgres refuses (beyond ±15:59, e.g.
    -19:03) or an instant outside the years 1 to 9999 in UTC is a 400, not a 500."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return value
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Enter a date-time between the years 1 and 9999.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class AdvocateFilter(django_filters.FilterSet):
    """Search, filters and sorting of the advocate list (manager page and API alike)."""

    q = django_filters.CharFilter(method="search", label="Search", max_length=200)
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices)
    type = django_filters.ChoiceFilter(choices=AdvocateType.choices)
    tag = django_filters.CharFilter(field_name="tags__name", label="Tag", max_length=50, method="filter_tag")
    motivation = django_filters.ChoiceFilter(choices=Motivation.choices)
    expressiveness = django_filters.ChoiceFilter(choices=Expressiveness.choices)
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact", max_length=254)
    external_id = django_filters.CharFilter(field_name="external_id", max_length=100)
    updated_since = UtcIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    sort = django_filters.ChoiceFilter(
        method="order", label="Sort", empty_label=None,
        choices=[(k, k) for k in ADVOCATE_ORDERINGS],
    )

    class Meta:
        model = Advocate
        fields = ["q", "stage", "type", "tag", "motivation", "expressiveness", "email", "external_id", "updated_since", "sort"]

    def __init__(self, data=None, *args, **kwargs):
        # The page's "Any" stage sends `stage=`; an empty value is no filter, not an error.
        if data is not None and hasattr(data, "setlist") and "stage" in data:
            data = data.copy()
            data.setlist("stage", [v for v in data.getlist("stage") if v.strip()])
        super().__init__(data, *args, **kwargs)

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(email__icontains=value) | Q(company__icontains=value) | Q(external_id=value)
        )

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(tags__name=" ".join(value.split()).lower()) if value.strip() else queryset

    def order(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(*ADVOCATE_ORDERINGS.get(value, ("name", "id")))


class EventFilter(django_filters.FilterSet):
    """Filters of the API's event list."""

    # A callable: the queryset is built per request, inside the workspace's scope.
    advocate = django_filters.ModelChoiceFilter(queryset=lambda request: Advocate.objects.all())
    kind = django_filters.ChoiceFilter(choices=EventKind.choices)
    occurred_at__gte = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_at__lt = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = ActivityEvent
        fields = ["advocate", "kind", "occurred_at__gte", "occurred_at__lt"]


def advocate_list(queryset: QuerySet) -> QuerySet:
    """The list's rows with what each row shows, in a fixed number of queries."""
    return queryset.prefetch_related("tags")


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # "event" or "change"
    title: str
    detail: str = ""


def advocate_timeline(advocate: Advocate, *, limit: int = 50) -> list[TimelineItem]:
    """The latest events and changes of one advocate, newest first (two queries)."""
    events = ActivityEvent.objects.filter(advocate=advocate).order_by("-occurred_at", "-id")[:limit]
    changes = AuditLog.objects.filter(advocate=advocate).order_by("-created_at", "-id")[:limit]
    items = [
        TimelineItem(
            at=e.occurred_at, kind="event", title=e.get_kind_display(),
            detail=" · ".join(part for part in (f"value {e.value}" if e.value is not None else "", _props(e.properties)) if part),
        )
        for e in events
    ] + [
        TimelineItem(at=c.created_at, kind="change", title=c.message, detail=f"by {c.actor_label}" if c.actor_label else "")
        for c in changes
    ]
    items.sort(key=lambda i: i.at, reverse=True)
    return list(islice(items, limit))


def _props(properties: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in list(properties.items())[:4])
