"""/api/v1/advocates/ and /api/v1/events/."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from ..models import ActivityEvent, Advocate, EventKind, Stage
from ..queries import AdvocateFilter, EventFilter, advocate_list
from ..services import advocates as advocate_services
from ..services.events import MAX_BATCH, record_events
from .base import CrudViewSet, WorkspaceViewSet, idempotent


class TagListField(serializers.ListField):
    """Tag names; reads the (prefetched) related tags."""

    def to_representation(self, data):
        return [tag.name for tag in data.all()] if hasattr(data, "all") else super().to_representation(data)


class AdvocateSerializer(serializers.ModelSerializer):
    tags = TagListField(
        child=serializers.CharField(max_length=50), required=False, max_length=100,
        help_text="Tag names; on write, replaces the advocate's tags.",
    )
    stage = serializers.ChoiceField(
        choices=Stage.choices, required=False,
        help_text="On create, the initial stage (default candidate). On update, a stage change that the lifecycle allows; otherwise 409.",
    )
    channels = serializers.ListField(child=serializers.ChoiceField(choices=["email", "portal"]), required=False, max_length=2)
    preferred_ask_kinds = serializers.ListField(child=serializers.CharField(max_length=30), required=False, max_length=20)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)

    class Meta:
        model = Advocate
        fields = [
            "id", "name", "email", "company", "title", "type", "external_id", "customer_since", "renewal_date",
            "tags", "motivation", "expressiveness", "stage", "stage_changed_at", "max_asks_per_month", "channels",
            "preferred_ask_kinds", "show_on_leaderboards", "score", "score_breakdown", "last_asked_at",
            "last_activity_at", "points_balance", "lifetime_points", "tier", "created_at", "updated_at",
        ]
        read_only_fields = [
            "id", "stage_changed_at", "score", "score_breakdown", "last_asked_at", "last_activity_at",
            "points_balance", "lifetime_points", "tier", "created_at", "updated_at",
        ]
        extra_kwargs = {"email": {"validators": []}}


class AdvocateViewSet(CrudViewSet):
    """Advocates: everyone the workspace knows, whatever their stage."""

    model = Advocate
    serializer_class = AdvocateSerializer
    filterset_class = AdvocateFilter

    def scope_queryset(self, queryset):
        return advocate_list(queryset).order_by("id")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        tags = data.pop("tags", [])
        stage = data.pop("stage", Stage.CANDIDATE)
        serializer.instance = advocate_services.create_advocate(
            workspace=self.workspace, actor=self.request.auth, data=data, tags=tags, stage=stage
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        tags = data.pop("tags", None)
        stage = data.pop("stage", None)
        with transaction.atomic():  # a refused stage change must not leave the other fields changed
            advocate = advocate_services.update_advocate(advocate=serializer.instance, actor=self.request.auth, data=data, tags=tags)
            if stage is not None:
                advocate = advocate_services.change_stage(advocate=advocate, stage=stage, actor=self.request.auth)
        serializer.instance = self.get_queryset().get(pk=advocate.pk)

    @extend_schema(
        summary="Erase an advocate",
        description="Anonymises the advocate's personal fields (a privacy erasure). Ledger sums and metrics stay consistent.",
        responses={204: None},
    )
    def destroy(self, request, *args, **kwargs):
        advocate_services.erase_advocate(advocate=self.get_object(), actor=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)


class EventSerializer(serializers.ModelSerializer):
    advocate = serializers.IntegerField(source="advocate_id", read_only=True)

    class Meta:
        model = ActivityEvent
        fields = ["id", "advocate", "kind", "occurred_at", "value", "properties", "created_at"]


class EventInSerializer(serializers.Serializer):
    """One event as posted (documentation only: items are validated one by one by the service)."""

    advocate = inline_serializer(
        "EventAdvocateRef",
        fields={
            "email": serializers.EmailField(required=False),
            "external_id": serializers.CharField(required=False),
        },
        help_text="Who did it: their email or their external_id.",
    )
    kind = serializers.ChoiceField(choices=EventKind.choices)
    occurred_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    value = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    properties = serializers.DictField(required=False)




class EventViewSet(mixins.ListModelMixin, WorkspaceViewSet):
    """Activity events posted by integrations (email opens, purchases, reviews, …)."""

    model = ActivityEvent
    serializer_class = EventSerializer
    filterset_class = EventFilter

    def scope_queryset(self, queryset):
        return queryset.order_by("-occurred_at", "-id")

    @extend_schema(
        summary="Record one event or a batch",
        description=(
            f"Send one event object, or a list of 1 to {MAX_BATCH:,}. Each item is validated; if any is "
            "invalid nothing is stored and the error lists every invalid item by its index in "
            "`error.items`. Honours `Idempotency-Key`."
        ),
        request=EventInSerializer(many=True),
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)],
        responses={
            201: inline_serializer("EventBatchCreated", fields={"created": serializers.IntegerField(), "ids": serializers.ListField(child=serializers.IntegerField())}),
            400: OpenApiResponse(description="Invalid items, an empty or an oversized batch"),
        },
        examples=[OpenApiExample("A batch", value=[{"advocate": {"email": "ada@example.com"}, "kind": "purchase", "occurred_at": "2026-05-01T12:00:00Z", "value": "120.00"}], request_only=True)],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        created = record_events(workspace=self.workspace, payload=request.data)
        return Response({"created": len(created), "ids": [e.pk for e in created]}, status=status.HTTP_201_CREATED)
