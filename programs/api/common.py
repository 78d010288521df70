"""What the programs API modules share."""

from __future__ import annotations

from django.db import models
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

MAX_ID = 10**18
MAX_INT = 2_147_483_647
IDEMPOTENCY = OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                               description="Makes the POST safe to retry: a repeat with the same body replays the first answer.")


def in_workspace(model: type[models.Model], workspace, pk: int | None, what: str):
    """The row ``pk`` of ``model`` in ``workspace``, or a 404 (another workspace's id
    answers exactly like one that does not exist)."""
    if pk is None:
        return None
    found = model.objects.filter(workspace=workspace, pk=pk).first()
    if found is None:
        raise Http404(f"No such {what}.")
    return found
