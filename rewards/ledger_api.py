"""/api/v1/ledger/: the points ledger of the workspace, and manual adjustments.

Entries are read-only (the ledger is append-only); a POST records a manager's adjustment
through ``adjust_points``, exactly once per ``Idempotency-Key``."""

from __future__ import annotations

import hashlib
import uuid

import django_filters
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers

from advocacy.api.base import WorkspaceViewSet, created, idempotent
from advocacy.models import Advocate
from advocacy.queries import UtcIsoDateTimeFilter

from .models import EntryKind, LedgerEntry
from .services import MAX_AMOUNT, adjust_points

MAX_ID = 10**18


class LedgerFilter(django_filters.FilterSet):
    # A callable: the queryset is built per request, inside the workspace's scope.
    advocate = django_filters.ModelChoiceFilter(queryset=lambda request: Advocate.objects.all())
    kind = django_filters.ChoiceFilter(choices=EntryKind.choices)
    created_at__gte = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_at__lt = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = LedgerEntry
        fields = ["advocate", "kind", "created_at__gte", "created_at__lt"]


class LedgerEntrySerializer(serializers.ModelSerializer):
    advocate = serializers.IntegerField(source="advocate_id", read_only=True)
    actor = serializers.CharField(source="actor_label", read_only=True, help_text='Who made it: a user\'s email, an API key\'s name, or "system".')
    amount = serializers.IntegerField(read_only=True, help_text="Signed: credits are positive, debits negative.")

    class Meta:
        model = LedgerEntry
        fields = ["id", "advocate", "kind", "amount", "reason", "cause", "actor", "balance_after", "program_id", "created_at"]
        read_only_fields = fields


class AdjustmentSerializer(serializers.Serializer):
    advocate = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The advocate's id.")
    amount = serializers.IntegerField(
        min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT,
        help_text="Signed points: positive to add, negative to take away. Not 0.",
    )
    reason = serializers.CharField(max_length=300, help_text="Required; the advocate sees it in their history.")

    def validate_amount(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("Must not be 0.")
        return value


class LedgerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """The ledger: every movement of points, newest first. Entries are never edited or deleted."""

    model = LedgerEntry
    serializer_class = LedgerEntrySerializer
    filterset_class = LedgerFilter

    def scope_queryset(self, queryset):
        return queryset.order_by("-created_at", "-id")

    @extend_schema(
        summary="Adjust an advocate's points",
        description=(
            "A manual correction with a required reason, audited. A negative amount that would take the "
            "balance below zero is refused with 409 `not_enough_points`. Honours `Idempotency-Key`: a "
            "repeat replays the first answer and never adjusts twice; the same key with another body is 409."
        ),
        request=AdjustmentSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)],
        responses={
            201: LedgerEntrySerializer,
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such advocate in this workspace"),
        },
        examples=[OpenApiExample("Goodwill", value={"advocate": 42, "amount": 250, "reason": "Thanks for the conference talk"}, request_only=True)],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        body = AdjustmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        advocate = Advocate.objects.filter(workspace=self.workspace, pk=data["advocate"]).first()
        if advocate is None:
            raise Http404("No such advocate.")
        header = (request.headers.get("Idempotency-Key") or "").strip()
        key = f"api-adjust:{hashlib.sha256(header.encode()).hexdigest() if header else uuid.uuid4()}"
        entry = adjust_points(advocate=advocate, amount=data["amount"], reason=data["reason"], actor=request.auth, idempotency_key=key)
        return created(LedgerEntrySerializer(entry).data)
