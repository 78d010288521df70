"""/api/v1/referrals/ and /api/v1/conversions/.

Every rule lives in referrals/services.py (the fraud rules, the state table, attribution
and the two-sided rewards); these views parse, look up within the key's workspace and
answer."""

from __future__ import annotations

import django_filters
from django.db.models import OuterRef, Subquery
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

from advocacy.api.base import WorkspaceViewSet, idempotent
from advocacy.models import Advocate
from programs.models import Program

from . import services as svc
from .models import Conversion, Coupon, Referral, ReferralCode, ReferralState

IDEMPOTENCY = OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)


class FlagSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="self_referral, duplicate, existing_advocate, existing_customer or coupon_pool_empty.")
    reason = serializers.CharField(help_text="Why, in words the manager and the advocate can read.")


class ReferralSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="code.code", read_only=True)
    program = serializers.IntegerField(source="program_id", read_only=True)
    advocate = serializers.IntegerField(source="advocate_id", read_only=True, help_text="The referrer.")
    flags = FlagSerializer(many=True, read_only=True, help_text="Fraud rules (or an empty coupon pool) that flagged it.")
    flagged = serializers.BooleanField(source="is_flagged", read_only=True,
                                       help_text="A flagged referral is not rewarded until a manager clears its flags.")
    coupon = serializers.CharField(source="coupon_code", read_only=True, allow_null=True, default=None,
                                   help_text="The coupon code given to the referee, if any.")
    conversion = serializers.IntegerField(source="conversion_id", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Referral
        fields = ["id", "code", "program", "advocate", "referee_email", "referee_name", "referee_company", "state", "reason",
                  "flags", "flagged", "source", "first_touch_at", "created_at", "qualified_at", "converted_at", "decided_at",
                  "rewarded_at", "coupon", "conversion"]
        read_only_fields = fields


class ReferralCreateSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, help_text="The advocate's referral code (the end of their /r/ link).")
    referee_email = serializers.EmailField(max_length=254)
    referee_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    referee_company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ReferralReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="Required; the advocate sees it.")


class ClearFlagsSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="",
                                 help_text="Why the flags were cleared (kept in the audit log).")


class ReferralFilter(django_filters.FilterSet):
    # Callables: the querysets are built per request, inside the workspace's scope.
    program = django_filters.ModelChoiceFilter(queryset=lambda request: Program.objects.all())
    advocate = django_filters.ModelChoiceFilter(queryset=lambda request: Advocate.objects.all())
    state = django_filters.ChoiceFilter(choices=ReferralState.choices)
    flagged = django_filters.BooleanFilter(method="filter_flagged", label="Flagged")

    class Meta:
        model = Referral
        fields = ["program", "advocate", "state", "flagged"]

    def filter_flagged(self, queryset, name, value):
        return queryset.exclude(flags=[]) if value else queryset.filter(flags=[])


def referral_queryset(queryset):
    """Each referral with its code, coupon and conversion in the same query."""
    coupons = Coupon.objects.filter(referral=OuterRef("pk")).values("code")[:1]
    conversions = Conversion.objects.filter(referral=OuterRef("pk")).values("pk")[:1]
    return queryset.select_related("code").annotate(coupon_code=Subquery(coupons), conversion_id=Subquery(conversions)) \
        .order_by("-created_at", "-id")


@extend_schema_view(
    list=extend_schema(summary="List referrals", description="Filter by `state`, `flagged`, `program` and `advocate` (the referrer)."),
    retrieve=extend_schema(summary="A referral"),
)
class ReferralViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Referred people: lead → qualified → converted, or rejected with a reason."""

    model = Referral
    serializer_class = ReferralSerializer
    filterset_class = ReferralFilter

    def scope_queryset(self, queryset):
        return referral_queryset(queryset)

    def _answer(self, referral: Referral, code: int = status.HTTP_200_OK) -> Response:
        return Response(ReferralSerializer(self.get_queryset().get(pk=referral.pk)).data, status=code)

    @extend_schema(
        summary="Report a referral (a lead) with an advocate's code",
        description=(
            "Creates the referral through the code, applying the fraud rules. **A flagged referral is still created** "
            "and returned with its `flags` (self-referral, a referee who is already an advocate or a customer); "
            "**a referee already referred in the workspace is created `rejected`** with the reason "
            "\"duplicate: already referred by …\" (the first referral wins). 201 for a new referral; 200 with the "
            "existing referral when the same referee is reported again through the same code. 404 for an unknown "
            "code or another workspace's; 409 `referrals_closed` when the program is not active or the advocate left. "
            "Honours `Idempotency-Key`."
        ),
        request=ReferralCreateSerializer, parameters=[IDEMPOTENCY],
        responses={
            201: ReferralSerializer,
            200: OpenApiResponse(ReferralSerializer, description="The same referee through the same code: the existing referral"),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such code in this workspace"),
        },
        examples=[OpenApiExample("Lead", value={"code": "K7MXQ2RTBH", "referee_email": "dana@prospect.example",
                                                "referee_name": "Dana", "referee_company": "Prospect Ltd"}, request_only=True)],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        body = ReferralCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        code = ReferralCode.objects.filter(workspace=self.workspace, code=data["code"].strip().upper()).first()
        if code is None:
            raise Http404("No such referral code.")
        referral = svc.create_referral(
            code=code, referee_email=data["referee_email"], referee_name=data["referee_name"],
            referee_company=data["referee_company"], source="api", actor=request.auth,
        )
        return self._answer(referral, status.HTTP_201_CREATED if referral.created else status.HTTP_200_OK)

    @extend_schema(summary="Qualify a lead", request=None, responses={200: ReferralSerializer},
                   description="lead → qualified. 409 `invalid_transition` from any other state.")
    @action(detail=True, methods=["post"])
    def qualify(self, request, pk=None):
        return self._answer(svc.qualify_referral(referral=self.get_object(), actor=request.auth))

    @extend_schema(summary="Reject a referral", request=ReferralReasonSerializer, responses={200: ReferralSerializer},
                   description="lead or qualified → rejected with a reason. 409 `invalid_transition` once converted or rejected.")
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        referral = self.get_object()
        body = ReferralReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(svc.reject_referral(referral=referral, actor=request.auth, reason=body.validated_data["reason"]))

    @extend_schema(
        summary="Clear a flagged referral's flags (approve it)", request=ClearFlagsSerializer, responses={200: ReferralSerializer},
        description=("A converted referral then gets the rewards it was held back from, exactly once. 409 `not_flagged` "
                     "when it has no flags; 409 `invalid_transition` for a rejected one."),
    )
    @action(detail=True, methods=["post"], url_path="clear-flags")
    def clear_flags(self, request, pk=None):
        referral = self.get_object()
        body = ClearFlagsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(svc.clear_flags(referral=referral, actor=request.auth, note=body.validated_data["note"]))


class ConversionSerializer(serializers.ModelSerializer):
    referral = serializers.IntegerField(source="referral_id", read_only=True, allow_null=True,
                                        help_text="The referral it was attributed to; null when unattributed.")

    class Meta:
        model = Conversion
        fields = ["id", "external_id", "referee_email", "value", "currency", "attributed", "referral", "occurred_at", "created_at"]
        read_only_fields = fields


class ConversionCreateSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=200, help_text="Your system's id of the deal or order: a repeat never counts twice.")
    referee_email = serializers.EmailField(max_length=254)
    value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    currency = serializers.CharField(min_length=3, max_length=3, help_text="ISO 4217, e.g. EUR.")
    occurred_at = serializers.DateTimeField(required=False, help_text="When it happened; now by default. Not in the future.")


class ConversionFilter(django_filters.FilterSet):
    attributed = django_filters.BooleanFilter()
    referral = django_filters.ModelChoiceFilter(queryset=lambda request: Referral.objects.all())

    class Meta:
        model = Conversion
        fields = ["attributed", "referral"]


@extend_schema_view(
    list=extend_schema(summary="List conversions", description="Filter by `attributed` and `referral`."),
    retrieve=extend_schema(summary="A conversion"),
)
class ConversionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Referees who became customers, reported by an integration."""

    model = Conversion
    serializer_class = ConversionSerializer
    filterset_class = ConversionFilter

    def scope_queryset(self, queryset):
        return queryset.order_by("-occurred_at", "-id")

    @extend_schema(
        summary="Report a conversion",
        description=(
            "Attributes the conversion to the referral of the referee's email with the earliest first touch within "
            "the program's attribution window (day N of an N-day window counts); that referral becomes converted and, "
            "unless flagged, the referrer's points are held for the hold period and the referee gets their reward. "
            "Without such a referral the conversion is recorded unattributed (`attributed: false`, no rewards). "
            "Idempotent on `external_id`: a repeat answers 200 with the first conversion and never counts twice. "
            "Honours `Idempotency-Key`."
        ),
        request=ConversionCreateSerializer, parameters=[IDEMPOTENCY],
        responses={201: ConversionSerializer,
                   200: OpenApiResponse(ConversionSerializer, description="A repeat of the external id: the first conversion")},
        examples=[OpenApiExample("Conversion", value={"external_id": "deal-4711", "referee_email": "dana@prospect.example",
                                                      "value": "1200.00", "currency": "EUR"}, request_only=True)],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        body = ConversionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        conversion = svc.record_conversion(
            workspace=self.workspace, external_id=data["external_id"], referee_email=data["referee_email"],
            value=data["value"], currency=data["currency"], occurred_at=data.get("occurred_at"), actor=request.auth,
        )
        code = status.HTTP_201_CREATED if conversion.created else status.HTTP_200_OK
        return Response(ConversionSerializer(self.get_queryset().get(pk=conversion.pk)).data, status=code)
