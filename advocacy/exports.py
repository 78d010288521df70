"""CSV downloads of manager pages: streamed, scoped, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable

from django.http import StreamingHttpResponse
from django.utils import timezone

from .models import Workspace
from .scoping import workspace_scope


class _Echo:
    def write(self, value):
        return value


def inert(value: str) -> str:
    """Text typed by people or integrations, made inert for spreadsheets: a cell starting
    with = + - @ (or a tab or carriage return) would run as a formula (CSV injection)."""
    return "'" + value if value and value[0] in "=+-@\t\r" else value


def streaming_csv(*, workspace: Workspace, name: str, header: list[str], rows: Callable[[], Iterable[list]]) -> StreamingHttpResponse:
    """A CSV response whose ``rows()`` are read while it streams, after the view has
    returned, so the generator re-enters the workspace scope itself."""
    writer = csv.writer(_Echo())

    def stream():
        yield writer.writerow(header)
        with workspace_scope(workspace):
            for row in rows():
                yield writer.writerow(row)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{workspace.slug}-{name}-{timezone.now():%Y%m%d}.csv"'
    return response
