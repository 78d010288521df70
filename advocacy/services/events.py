"""Activity events: validated item by item, resolved to advocates in two queries, inserted
in bulk. A batch is all-or-nothing: if any item is invalid nothing is stored and every
invalid item is reported by its index, so an integration can fix and resend the batch
without creating duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, DateTimeField, F, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..errors import ValidationFailed
from ..models import ActivityEvent, Advocate, EventKind, Workspace

MAX_BATCH = 1000
MAX_PROPERTIES_BYTES = 8 * 1024
MAX_VALUE = Decimal("999999999999.99")
EARLIEST_OCCURRED_AT = datetime(1970, 1, 1, tzinfo=UTC)


class EventBatchInvalid(ValidationFailed):
    """Some items of a batch are invalid; ``items`` lists them by index."""

    def __init__(self, message: str, items: list[dict[str, Any]]):
        ValidationFailed.__init__(self, message)
        self.items = items


def _validate_item(raw: Any, now: datetime) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, dict):
        return None, {"non_field_errors": ["Each event must be a JSON object."]}
    item: dict[str, Any] = {}

    who = raw.get("advocate")
    if isinstance(who, dict):
        email, external_id = who.get("email"), who.get("external_id")
    else:
        email, external_id = raw.get("email"), raw.get("external_id")
        if isinstance(who, str):
            email = email or (who if "@" in who else None)
            external_id = external_id or (None if "@" in who else who)
    if email is not None and not isinstance(email, str):
        errors["advocate"] = ["email must be a string."]
    elif external_id is not None and not isinstance(external_id, str | int):
        errors["advocate"] = ["external_id must be a string."]
    elif not email and not external_id:
        errors["advocate"] = ["Give the advocate's email or external_id."]
    else:
        item["email"] = email.strip().lower() if email else None
        item["external_id"] = str(external_id).strip() if external_id not in (None, "") else None

    kind = raw.get("kind")
    if kind not in EventKind.values:
        errors["kind"] = [f"Unknown kind; use one of: {', '.join(EventKind.values)}."]
    else:
        item["kind"] = kind

    occurred = raw.get("occurred_at")
    if occurred in (None, ""):
        item["occurred_at"] = now
    else:
        try:  # well-formed but impossible dates (Feb 30, hour 25, offset +25:00) raise ValueError
            parsed = parse_datetime(occurred) if isinstance(occurred, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            errors["occurred_at"] = ["Use an ISO 8601 date-time, e.g. 2026-05-01T12:00:00Z."]
        else:
            if timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed, UTC)
            try:  # Postgres refuses offsets beyond ±15:59 (Python allows up to ±23:59)
                parsed = parsed.astimezone(UTC)
            except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before the year 1 in UTC
                errors["occurred_at"] = ["Must not be before 1970."]
            else:
                if parsed > now + timedelta(days=1):
                    errors["occurred_at"] = ["Must not be in the future."]
                elif parsed < EARLIEST_OCCURRED_AT:  # also keeps UTC within the years Python can read back
                    errors["occurred_at"] = ["Must not be before 1970."]
                item["occurred_at"] = parsed

    value = raw.get("value")
    if value is None or value == "":
        item["value"] = None
    elif isinstance(value, bool):
        errors["value"] = ["Must be a number."]
    else:
        try:
            number = Decimal(str(value)).quantize(Decimal("0.01"))
            if not number.is_finite() or abs(number) > MAX_VALUE:
                raise InvalidOperation
            item["value"] = number
        except (InvalidOperation, ValueError):
            errors["value"] = ["Must be a number with at most 12 digits before the point."]

    props = raw.get("properties", {})
    if props is None:
        props = {}
    if not isinstance(props, dict):
        errors["properties"] = ["Must be a JSON object."]
    else:
        import json

        if len(json.dumps(props, default=str)) > MAX_PROPERTIES_BYTES:
            errors["properties"] = [f"At most {MAX_PROPERTIES_BYTES // 1024} KB."]
        item["properties"] = props

    unknown = set(raw) - {"advocate", "email", "external_id", "kind", "occurred_at", "value", "properties"}
    if unknown:
        errors["non_field_errors"] = [f"Unknown field(s): {', '.join(sorted(unknown))}."]
    return (None if errors else item), errors


@transaction.atomic
def record_events(*, workspace: Workspace, payload: Any) -> list[ActivityEvent]:
    """Store one event (a dict) or a batch (a list of up to 1,000)."""
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise ValidationFailed("Send one event or a list of 1 to 1,000 events.", code="empty_batch")
    if len(items) > MAX_BATCH:
        raise ValidationFailed(f"A batch holds at most {MAX_BATCH:,} events; this one has {len(items):,}.", code="batch_too_large")
    now = timezone.now()
    cleaned: list[dict[str, Any] | None] = []
    problems: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        item, errors = _validate_item(raw, now)
        cleaned.append(item)
        if errors:
            problems.append({"index": index, "fields": errors})

    emails = {i["email"] for i in cleaned if i and i["email"]}
    external_ids = {i["external_id"] for i in cleaned if i and i["external_id"]}
    by_email = dict(Advocate.objects.filter(workspace=workspace, email__in=emails).values_list("email", "id")) if emails else {}
    by_external = dict(Advocate.objects.filter(workspace=workspace, external_id__in=external_ids).values_list("external_id", "id")) if external_ids else {}

    events: list[ActivityEvent] = []
    for index, item in enumerate(cleaned):
        if item is None:
            continue
        advocate_id = by_external.get(item["external_id"]) or by_email.get(item["email"])
        if advocate_id is None:
            who = f"external_id “{item['external_id']}”" if item["external_id"] else f"email {item['email']}"
            problems.append({"index": index, "fields": {"advocate": [f"No advocate with {who} in this workspace."]}})
            continue
        events.append(ActivityEvent(
            workspace=workspace, advocate_id=advocate_id, kind=item["kind"], occurred_at=item["occurred_at"],
            value=item["value"], properties=item["properties"], created_at=now,
        ))
    if problems:
        problems.sort(key=lambda p: p["index"])
        raise EventBatchInvalid(f"{len(problems)} of {len(items)} events are invalid; nothing was stored.", problems)

    created = ActivityEvent.objects.bulk_create(events, batch_size=1000)
    _touch_last_activity(workspace, events)
    from ..budget import workspace_zone
    from ..signals import events_recorded

    people = sorted({e.advocate_id for e in events})
    zone = workspace_zone(workspace)
    days = sorted({timezone.localtime(e.occurred_at, zone).date() for e in events})
    transaction.on_commit(lambda: events_recorded.send(sender=ActivityEvent, workspace=workspace, advocate_ids=people,
                                                       days=days))
    return created


def _touch_last_activity(workspace: Workspace, events: list[ActivityEvent]) -> None:
    latest: dict[int, datetime] = {}
    for event in events:
        if event.advocate_id not in latest or event.occurred_at > latest[event.advocate_id]:
            latest[event.advocate_id] = event.occurred_at
    if not latest:
        return
    ids, times = list(latest), list(latest.values())
    if connection.vendor == "postgresql":
        # One statement, two array parameters: cheap to build for a 1,000-item batch.
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {Advocate._meta.db_table} AS a
                   SET last_activity_at = GREATEST(COALESCE(a.last_activity_at, v.at), v.at)
                  FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at)
                 WHERE a.id = v.id AND a.workspace_id = %s
                """,
                [ids, times, workspace.pk],
            )
        return
    newest = Case(*[When(pk=pk, then=Value(at)) for pk, at in latest.items()], output_field=DateTimeField())
    Advocate.objects.filter(workspace=workspace, pk__in=ids).update(
        last_activity_at=Greatest(Coalesce(F("last_activity_at"), newest), newest)
    )
