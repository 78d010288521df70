"""/api/v1/rewards/catalog/ and /api/v1/rewards/redemptions/.

Every rule lives in rewards/redemptions.py; a refusal (out of stock, too few points, over
the limit or the yearly cap, an illegal state change) is a 409 whose message is the one
the portal shows."""

from __future__ import annotations

import django_filters
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from advocacy.api.base import CrudViewSet, WorkspaceViewSet, created, idempotent
from advocacy.models import Advocate

from . import redemptions as svc
from .models import CatalogItem, ItemKind, Redemption
from .services import MAX_AMOUNT

MAX_ID = 10**18
MAX_INT = 2_147_483_647
IDEMPOTENCY = OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)


class CatalogItemSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=ItemKind.choices)
    cost = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT, help_text="Points.")
    value = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False,
                                     help_text="Money value, counted against the yearly cap.")
    stock = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False, allow_null=True, help_text="Null: unlimited.")
    per_advocate_limit = serializers.IntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True,
                                                  help_text="Null: no limit.")

    class Meta:
        model = CatalogItem
        fields = ["id", "name", "description", "kind", "cost", "value", "stock", "per_advocate_limit", "needs_approval",
                  "fulfilment_instructions", "charity_name", "active", "created_at"]
        read_only_fields = ["id", "created_at"]


@extend_schema_view(
    destroy=extend_schema(summary="Delete a catalog item", description="Only an item never redeemed; otherwise 409 (make it inactive instead)."),
)
class CatalogViewSet(CrudViewSet):
    """The reward catalog: what advocates can spend their points on."""

    model = CatalogItem
    serializer_class = CatalogItemSerializer

    def scope_queryset(self, queryset):
        return queryset.order_by("id")

    def perform_create(self, serializer):
        serializer.instance = svc.create_catalog_item(workspace=self.workspace, actor=self.request.auth, data=dict(serializer.validated_data))

    def perform_update(self, serializer):
        serializer.instance = svc.update_catalog_item(item=serializer.instance, actor=self.request.auth, data=dict(serializer.validated_data))

    def perform_destroy(self, instance):
        svc.delete_catalog_item(item=instance, actor=self.request.auth)

    @extend_schema(parameters=[IDEMPOTENCY])
    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)


class RedemptionFilter(django_filters.FilterSet):
    # A callable: the queryset is built per request, inside the workspace's scope.
    advocate = django_filters.ModelChoiceFilter(queryset=lambda request: Advocate.objects.all())
    status = django_filters.ChoiceFilter(choices=Redemption.Status.choices)

    class Meta:
        model = Redemption
        fields = ["advocate", "status"]


class RedemptionSerializer(serializers.ModelSerializer):
    advocate = serializers.IntegerField(source="advocate_id", read_only=True)
    item = serializers.IntegerField(source="item_id", read_only=True)
    item_name = serializers.CharField(source="item.name", read_only=True)
    debit_entry = serializers.IntegerField(source="debit_entry_id", read_only=True, allow_null=True, help_text="The ledger entry of the debit.")
    refund_entry = serializers.IntegerField(source="refund_entry_id", read_only=True, allow_null=True, help_text="The ledger entry of the refund, if refunded.")

    class Meta:
        model = Redemption
        fields = ["id", "advocate", "item", "item_name", "status", "points", "value", "debit_entry", "refund_entry",
                  "fulfilment_note", "reason", "created_at", "decided_at", "fulfilled_at"]
        read_only_fields = fields


class RedeemSerializer(serializers.Serializer):
    advocate = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The advocate's id.")
    item = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The catalog item's id.")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="",
                                 help_text="A code or tracking note the advocate sees.")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="Required; the advocate sees it.")


REFUSALS = (
    "409 when the item is out of stock (`out_of_stock`), the balance is too low (`not_enough_points`), the "
    "advocate reached the item's limit (`over_limit`) or the yearly value cap (`over_yearly_cap`), or the item "
    "is inactive (`item_unavailable`); the message is the one the portal shows."
)


class RedemptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Redemptions: requested (points debited, stock reserved) → approved → fulfilled, or
    rejected / cancelled with a refund."""

    model = Redemption
    serializer_class = RedemptionSerializer
    filterset_class = RedemptionFilter

    def scope_queryset(self, queryset):
        return queryset.select_related("item").order_by("-created_at", "-id")

    @extend_schema(
        summary="Redeem an item for an advocate",
        description=f"Debits the item's cost and reserves stock at once. {REFUSALS} Honours `Idempotency-Key`: a repeat replays the first answer and never redeems twice.",
        request=RedeemSerializer, parameters=[IDEMPOTENCY],
        responses={201: RedemptionSerializer, 404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such advocate or item in this workspace")},
        examples=[OpenApiExample("Redeem", value={"advocate": 42, "item": 7}, request_only=True)],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        body = RedeemSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        advocate = Advocate.objects.filter(workspace=self.workspace, pk=data["advocate"]).first()
        item = CatalogItem.objects.filter(workspace=self.workspace, pk=data["item"]).first()
        if advocate is None or item is None:
            raise Http404("No such advocate or item.")
        redemption = svc.redeem(advocate=advocate, item=item, actor=request.auth, note=data["note"])
        return created(RedemptionSerializer(self.get_queryset().get(pk=redemption.pk)).data)

    def _answer(self, redemption):
        return Response(RedemptionSerializer(self.get_queryset().get(pk=redemption.pk)).data, status=status.HTTP_200_OK)

    @extend_schema(summary="Approve a requested redemption", request=None, responses={200: RedemptionSerializer},
                   description="409 `invalid_transition` unless it is requested.")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._answer(svc.approve(redemption=self.get_object(), actor=request.auth))

    @extend_schema(summary="Fulfil an approved redemption", request=NoteSerializer, responses={200: RedemptionSerializer},
                   description="With an optional code or tracking note; emails the advocate. 409 `invalid_transition` unless it is approved.")
    @action(detail=True, methods=["post"])
    def fulfil(self, request, pk=None):
        redemption = self.get_object()
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(svc.fulfil(redemption=redemption, actor=request.auth, note=body.validated_data["note"]))

    @extend_schema(summary="Reject a requested redemption", request=ReasonSerializer, responses={200: RedemptionSerializer},
                   description="Refunds the points exactly once and emails the advocate the reason. 409 `invalid_transition` unless it is requested.")
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        redemption = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(svc.reject(redemption=redemption, actor=request.auth, reason=body.validated_data["reason"]))

    @extend_schema(summary="Cancel a requested or approved redemption", request=ReasonSerializer, responses={200: RedemptionSerializer},
                   description="Refunds the points exactly once. 409 `invalid_transition` once fulfilled, rejected or cancelled.")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        redemption = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(svc.cancel(redemption=redemption, actor=request.auth, reason=body.validated_data["reason"]))
