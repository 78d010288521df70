"""CSV import of advocates: parse and preview, then upsert by external id or email.

Every bad line is reported with its line number and reason; good lines are imported.
Small files are applied at once; large ones run in the worker (``advocacy.tasks.run_import``)
in chunks, with progress saved after each chunk so the page can show it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..errors import Conflict, ValidationFailed
from ..models import (
    Advocate,
    AdvocateTag,
    AdvocateType,
    AuditLog,
    Expressiveness,
    ImportJob,
    ImportStatus,
    Motivation,
    Stage,
    Workspace,
)
from .advocates import ensure_tags, normalize_tags

COLUMNS = {
    "email": "Email address (required unless external_id is given)",
    "external_id": "The CRM's id for this person",
    "name": "Full name",
    "company": "Company",
    "title": "Job title",
    "type": "customer, employee or partner (default customer)",
    "customer_since": "Date, YYYY-MM-DD",
    "renewal_date": "Date, YYYY-MM-DD",
    "tags": "Tags separated by ; or |",
    "motivation": "intrinsic, extrinsic or unknown",
    "expressiveness": "introverted, ambiverted, extraverted or unknown",
    "stage": "Stage for new advocates (default candidate); ignored for existing ones",
}
HEADER_ALIASES = {"e-mail": "email", "email address": "email", "full name": "name", "id": "external_id", "crm id": "external_id"}
UPDATABLE = ["name", "company", "title", "type", "customer_since", "renewal_date", "motivation", "expressiveness"]
CHUNK = 500
RUNNING_LEASE = timedelta(minutes=15)  # far above the time of one chunk
MAX_ROWS = 100_000


@dataclass
class ParsedRow:
    line: int
    values: dict[str, Any]
    tags: list[str] = field(default_factory=list)


@dataclass
class ParsedFile:
    rows: list[ParsedRow]
    errors: list[dict[str, Any]]
    total_rows: int
    ignored_columns: list[str]


def decode_upload(raw: bytes) -> str:
    if len(raw) > settings.IMPORT_MAX_BYTES:
        raise ValidationFailed(f"The file is larger than {settings.IMPORT_MAX_BYTES // (1024 * 1024)} MB; split it into smaller files.", code="file_too_large")
    if b"\x00" in raw[:65536]:  # text CSV never holds NUL bytes; images, zips and UTF-16 do
        raise ValidationFailed("This is not a CSV text file; save it as “CSV UTF-8” and try again.", code="not_csv")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed("The file is not text in UTF-8; save it as “CSV UTF-8” and try again.", code="bad_encoding")


def _header(name: str) -> str:
    key = " ".join((name or "").strip().lower().replace("_", " ").split())
    key = HEADER_ALIASES.get(key, key).replace(" ", "_")
    return key


def _parse_date(value: str, column: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column} “{value}” is not a date in the form YYYY-MM-DD") from None


def _choice(value: str, column: str, choices) -> str:
    value = value.lower()
    if value not in choices.values:
        raise ValueError(f"{column} “{value}” is not one of {', '.join(choices.values)}")
    return value


def _clean_row(cells: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    email = cells.get("email", "").strip().lower()
    external_id = cells.get("external_id", "").strip()
    if not email and not external_id:
        raise ValueError("email is missing (give an email or an external_id)")
    if email:
        if len(email) > 254:
            raise ValueError("email is longer than 254 characters")
        try:
            validate_email(email)
        except ValidationError:
            raise ValueError(f"email “{email}” is not a valid address") from None
        values["email"] = email
    if external_id:
        if len(external_id) > 100:
            raise ValueError("external_id is longer than 100 characters")
        values["external_id"] = external_id
    for column, limit in (("name", 200), ("company", 200), ("title", 200)):
        text = " ".join(cells.get(column, "").split())
        if len(text) > limit:
            raise ValueError(f"{column} is longer than {limit} characters")
        if text:
            values[column] = text
    for column, choices in (("type", AdvocateType), ("motivation", Motivation), ("expressiveness", Expressiveness), ("stage", Stage)):
        if cells.get(column, "").strip():
            values[column] = _choice(cells[column].strip(), column, choices)
    for column in ("customer_since", "renewal_date"):
        if cells.get(column, "").strip():
            values[column] = _parse_date(cells[column].strip(), column)
    raw_tags = cells.get("tags", "").replace("|", ";")
    try:
        tags = normalize_tags(raw_tags.split(";"))
    except ValidationFailed as exc:
        raise ValueError(exc.message) from None
    return values, tags


def parse_csv(text: str) -> ParsedFile:
    """Read the whole file, checking every row; a bad row becomes an error with its line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationFailed("The file is empty: it needs a header row and at least one advocate.", code="empty_file") from None
    except csv.Error as exc:
        raise ValidationFailed(f"Line 1 could not be read as CSV: {exc}.", code="bad_csv") from None
    columns = [_header(h) for h in header]
    if "email" not in columns and "external_id" not in columns:
        found = ", ".join(h for h in header if h)
        found = found if len(found) <= 200 else found[:200] + "…"
        raise ValidationFailed(
            "The header row needs an “email” column (or “external_id”). Found: " + found + ".",
            code="missing_email_column",
        )
    ignored = sorted({h for h, c in zip(header, columns, strict=True) if c not in COLUMNS and h.strip()})
    rows: list[ParsedRow] = []
    errors: list[dict[str, Any]] = []
    seen_email: dict[str, int] = {}
    seen_external: dict[str, int] = {}
    total = 0
    while True:
        # A record with quoted line breaks spans several physical lines: report the first.
        line = reader.line_num + 1
        try:
            cells_list = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            total += 1
            errors.append({"line": line, "reason": f"could not be read as CSV ({exc})"})
            continue
        if not any(c.strip() for c in cells_list):
            continue
        total += 1
        if total > MAX_ROWS:
            raise ValidationFailed(f"The file has more than {MAX_ROWS:,} rows; split it into smaller files.", code="too_many_rows")
        if len(cells_list) > len(columns):
            errors.append({"line": line, "reason": f"has {len(cells_list)} cells but the header has {len(columns)} columns"})
            continue
        cells = {c: v for c, v in zip(columns, cells_list, strict=False) if c in COLUMNS}
        try:
            values, tags = _clean_row(cells)
        except ValueError as exc:
            errors.append({"line": line, "reason": str(exc)})
            continue
        email, ext = values.get("email"), values.get("external_id")
        if email and email in seen_email:
            errors.append({"line": line, "reason": f"email {email} already appears on line {seen_email[email]}"})
            continue
        if ext and ext in seen_external:
            errors.append({"line": line, "reason": f"external_id “{ext}” already appears on line {seen_external[ext]}"})
            continue
        if email:
            seen_email[email] = line
        if ext:
            seen_external[ext] = line
        rows.append(ParsedRow(line=line, values=values, tags=tags))
    if total == 0:
        raise ValidationFailed("The file has a header row but no advocates.", code="empty_file")
    return ParsedFile(rows=rows, errors=errors, total_rows=total, ignored_columns=ignored)


@dataclass
class Preview:
    job: ImportJob
    parsed: ParsedFile
    to_create: int
    to_update: int
    sample: list[ParsedRow]


def start_import(*, workspace: Workspace, actor, filename: str, raw: bytes) -> Preview:
    """Parse the upload and keep it as an import awaiting confirmation."""
    text = decode_upload(raw)
    parsed = parse_csv(text)
    job = ImportJob.objects.create(
        workspace=workspace, created_by=actor, filename=(filename or "upload.csv")[:255], content=text,
        total_rows=parsed.total_rows, valid_rows=len(parsed.rows), errors=parsed.errors,
    )
    return preview(job, parsed)


def preview(job: ImportJob, parsed: ParsedFile | None = None) -> Preview:
    parsed = parsed or parse_csv(job.content)
    existing = 0
    for chunk in _chunks(parsed.rows, 2000):
        matched = _existing(job.workspace_id, chunk)
        existing += sum(1 for row in chunk if _match(row, matched) is not None)
    return Preview(job=job, parsed=parsed, to_create=len(parsed.rows) - existing, to_update=existing, sample=parsed.rows[:10])


def confirm_import(*, job: ImportJob, actor) -> ImportJob:
    """Run the import now if it is small, otherwise queue it for the worker."""
    from ..tasks import enqueue, run_import

    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PREVIEW).update(status=ImportStatus.QUEUED)
    if not claimed:
        raise Conflict("This import was already started or cancelled.", code="import_started")
    job.refresh_from_db()
    if job.valid_rows <= settings.IMPORT_INLINE_MAX_ROWS:
        apply_import(job_id=job.pk)
        job.refresh_from_db()
    else:
        enqueue(run_import, workspace_id=job.workspace_id, import_id=job.pk)
    return job


def cancel_import(*, job: ImportJob) -> None:
    if not ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PREVIEW).update(status=ImportStatus.CANCELLED, content=""):
        raise Conflict("Only an import awaiting confirmation can be cancelled.", code="import_started")


def apply_import(*, job_id: int) -> None:
    """Upsert the rows of a queued import, chunk by chunk. Safe to run twice: only a
    queued job is claimed, and each chunk is an upsert keyed on email or external id.

    A job left ``running`` by a worker that died (its task is redelivered, acks_late) is
    claimed again once its lease is stale; it starts over, and rows it already wrote are
    matched and updated rather than duplicated."""
    now = timezone.now()
    claimable = Q(status=ImportStatus.QUEUED) | Q(status=ImportStatus.RUNNING, started_at__lt=now - RUNNING_LEASE)
    if not ImportJob.objects.filter(claimable, pk=job_id).update(
        status=ImportStatus.RUNNING, started_at=now, processed_rows=0, created_count=0, updated_count=0
    ):
        return
    job = ImportJob.objects.select_related("workspace").get(pk=job_id)
    try:
        parsed = parse_csv(job.content)
        errors = list(parsed.errors)
        for chunk in _chunks(parsed.rows, CHUNK):
            created, updated, chunk_errors = _apply_chunk(job, chunk)
            errors.extend(chunk_errors)
            ImportJob.objects.filter(pk=job.pk).update(
                processed_rows=F("processed_rows") + len(chunk),
                created_count=F("created_count") + created,
                updated_count=F("updated_count") + updated,
            )
        errors.sort(key=lambda e: e["line"])
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, errors=errors, finished_at=timezone.now(), content="")
        job.refresh_from_db()
        AuditLog.objects.create(
            workspace=job.workspace, actor=job.created_by, actor_label=getattr(job.created_by, "email", ""),
            action="advocates.imported",
            message=f"Imported {job.filename}: {job.created_count} added, {job.updated_count} updated, {len(errors)} lines with errors",
        )
    except Exception as exc:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED, failure=str(exc)[:2000], finished_at=timezone.now())
        raise


def _chunks(rows: list[ParsedRow], size: int) -> Iterator[list[ParsedRow]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


@dataclass
class _Existing:
    by_email: dict[str, Advocate]
    by_external: dict[str, Advocate]


def _existing(workspace_id: int, rows: list[ParsedRow], *, for_update: bool = False) -> _Existing:
    emails = [r.values["email"] for r in rows if "email" in r.values]
    externals = [r.values["external_id"] for r in rows if "external_id" in r.values]
    qs = Advocate.objects.filter(workspace_id=workspace_id)
    if for_update:
        qs = qs.select_for_update()
    by_email = {a.email: a for a in qs.filter(email__in=emails)} if emails else {}
    by_external = {a.external_id: a for a in qs.filter(external_id__in=externals)} if externals else {}
    return _Existing(by_email, by_external)


def _match(row: ParsedRow, existing: _Existing) -> Advocate | None:
    ext, email = row.values.get("external_id"), row.values.get("email")
    return (existing.by_external.get(ext) if ext else None) or (existing.by_email.get(email) if email else None)


@transaction.atomic
def _apply_chunk(job: ImportJob, rows: list[ParsedRow]) -> tuple[int, int, list[dict[str, Any]]]:
    workspace = job.workspace
    existing = _existing(workspace.pk, rows, for_update=True)
    errors: list[dict[str, Any]] = []
    to_create: list[tuple[ParsedRow, Advocate]] = []
    to_update: list[tuple[ParsedRow, Advocate]] = []
    now = timezone.now()
    for row in rows:
        ext, email = row.values.get("external_id"), row.values.get("email")
        by_ext = existing.by_external.get(ext) if ext else None
        by_email = existing.by_email.get(email) if email else None
        if by_ext and by_email and by_ext.pk != by_email.pk:
            errors.append({"line": row.line, "reason": f"external_id “{ext}” and email {email} belong to two different advocates"})
            continue
        target = by_ext or by_email
        if target is not None:
            if ext and target.external_id and target.external_id != ext:
                errors.append({"line": row.line, "reason": f"email {email} belongs to an advocate with another external_id (“{target.external_id}”)"})
                continue
            if target.is_erased:
                errors.append({"line": row.line, "reason": "this advocate was erased and cannot be updated"})
                continue
            for key, value in row.values.items():
                if key in UPDATABLE or key in ("email", "external_id"):
                    setattr(target, key, value)
            target.updated_at = now
            to_update.append((row, target))
        else:
            if not email:
                errors.append({"line": row.line, "reason": f"no advocate has external_id “{ext}”, and a new one needs an email"})
                continue
            values = dict(row.values)
            values.setdefault("name", "")
            advocate = Advocate(workspace=workspace, created_at=now, stage_changed_at=now, **values)
            to_create.append((row, advocate))
            existing.by_email[email] = advocate
            if ext:
                existing.by_external[ext] = advocate
    if to_create:
        Advocate.objects.bulk_create([a for _, a in to_create])
        if not all(a.pk for _, a in to_create):  # SQLite before 3.35 returns no ids
            ids = dict(Advocate.objects.filter(workspace=workspace, email__in=[a.email for _, a in to_create]).values_list("email", "id"))
            for _, a in to_create:
                a.pk = a.id = ids[a.email]
    if to_update:
        Advocate.objects.bulk_update([a for _, a in to_update], [*UPDATABLE, "email", "external_id", "updated_at"])
    tagged = [(r, a) for r, a in (*to_create, *to_update) if r.tags]
    if tagged:
        tags = ensure_tags(workspace, {t for r, _ in tagged for t in r.tags})
        AdvocateTag.objects.bulk_create(
            [AdvocateTag(workspace=workspace, advocate_id=a.pk, tag=tags[t]) for r, a in tagged for t in r.tags],
            ignore_conflicts=True,
        )
    label = getattr(job.created_by, "email", "")
    AuditLog.objects.bulk_create(
        [AuditLog(workspace=workspace, actor=job.created_by, actor_label=label, action="advocate.created", advocate_id=a.pk, message=f"Added by import of {job.filename}") for _, a in to_create]
        + [AuditLog(workspace=workspace, actor=job.created_by, actor_label=label, action="advocate.updated", advocate_id=a.pk, message=f"Updated by import of {job.filename}") for _, a in to_update]
    )
    return len(to_create), len(to_update), errors
