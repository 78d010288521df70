"""/api/v1/metrics/ (the rollups over a range, with totals, a series and the KPIs) and
/api/v1/program-costs/ (what managers record per program; the denominator of ROI).

Definitions: insights/queries.py. Cost rules: insights/costs.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.response import Response

from advocacy.api.base import CrudViewSet, WorkspaceViewSet, created, idempotent
from advocacy.errors import ValidationFailed
from programs.api.common import IDEMPOTENCY, MAX_ID, in_workspace
from programs.models import Program

from . import queries
from .costs import MAX_AMOUNT, create_cost, delete_cost, update_cost
from .models import CostCategory, DailyMetric, ProgramCost
from .periods import MAX_DAYS, parse_range

MONEY_HELP = "In the workspace's currency, as a decimal string."


def _money(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=18, decimal_places=2, help_text=f"{help_text} {MONEY_HELP}")


class MetricValuesSerializer(serializers.Serializer):
    active_advocates = serializers.IntegerField(allow_null=True, help_text="People with activity in the 90 days up to the last rolled-up day; null when no day is rolled up.")
    points_outstanding = serializers.IntegerField(allow_null=True, help_text="Spendable balances at the end of the last rolled-up day (the workspace's; 0 on program rows).")
    new_advocates = serializers.IntegerField(help_text="People whose first activity fell in the range.")
    offers = serializers.IntegerField()
    accepts = serializers.IntegerField()
    completions = serializers.IntegerField(help_text="Assignments approved.")
    declines = serializers.IntegerField()
    expiries = serializers.IntegerField()
    proof_by_kind = serializers.DictField(child=serializers.IntegerField(), help_text='Approved proof by ask kind, e.g. {"review": 3}.')
    referral_clicks = serializers.IntegerField()
    referral_leads = serializers.IntegerField()
    referral_conversions = serializers.IntegerField()
    referral_revenue = _money("Attributed conversions in the workspace's currency.")
    nps_promoters = serializers.IntegerField()
    nps_passives = serializers.IntegerField()
    nps_detractors = serializers.IntegerField()
    nps = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True,
                                   help_text="100 * (promoters - detractors) / answers, one decimal; null without answers.")
    surveys_sent = serializers.IntegerField()
    points_earned = serializers.IntegerField()
    points_redeemed = serializers.IntegerField()
    pipeline_influenced = _money("Deal outcome amounts, by the day they were recorded.")
    revenue_won = _money("Won deal outcome amounts, by the day they were won.")
    program_costs = _money("Program costs incurred (ProgramCost entries).")
    events = serializers.IntegerField(help_text="Activity events posted by integrations.")


class MetricBucketSerializer(MetricValuesSerializer):
    period_start = serializers.DateField(help_text="The first day of the bucket inside the range (buckets at the edges are partial).")


class WinRateSideSerializer(serializers.Serializer):
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    percent = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True,
                                       help_text="won / (won + lost) in percent; null without decided deals.")


class WinRateSerializer(serializers.Serializer):
    with_reference = WinRateSideSerializer(help_text="Deals of reference-call asks decided in the range.")
    without_reference = WinRateSideSerializer(help_text="The other deals decided in the range.")


class KpisSerializer(serializers.Serializer):
    active_advocates = serializers.IntegerField(help_text="At the range's end.")
    nps = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    nps_responses = serializers.IntegerField()
    referral_revenue = _money("")
    other_currency_conversions = serializers.IntegerField(
        help_text="Attributed conversions of the range in other currencies: counted in `referral_conversions`, left out "
                  "of `referral_revenue` and `roi` (there is no exchange rate).")
    pipeline_influenced = _money("")
    revenue_won = _money("")
    program_costs = _money("")
    retention = serializers.DecimalField(
        max_digits=4, decimal_places=1, allow_null=True,
        help_text="Of the advocates active in the 90 days before `from`, the percentage active in the 90 days up to `to` "
                  "(the whole workspace); null when nobody was active before `from`.")
    retention_at_start = serializers.IntegerField()
    retention_retained = serializers.IntegerField()
    roi = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True,
                                   help_text="(referral revenue + revenue won - costs) / costs; null without costs.")
    roi_percent = serializers.DecimalField(max_digits=22, decimal_places=1, allow_null=True, help_text="`roi` * 100.")
    win_rate = WinRateSerializer()


@extend_schema_serializer(many=False)  # the answer of a list route, but one report, not an array
class MetricsSerializer(serializers.Serializer):
    from_ = serializers.DateField(help_text="First day (included), in the workspace's time zone.")
    to = serializers.DateField(help_text="Last day (included).")
    granularity = serializers.ChoiceField(choices=["day", "week", "month"])
    program = serializers.IntegerField(allow_null=True, help_text="The program the figures are limited to; null: every program.")
    totals = MetricValuesSerializer(help_text="Every metric over the range.")
    series = MetricBucketSerializer(many=True, help_text="Every metric per bucket, in order; empty buckets have zeros.")
    kpis = KpisSerializer()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


def _program(workspace, raw: str | None) -> Program | None:
    if raw in (None, ""):
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or int(raw) > MAX_ID:
        raise ValidationFailed("Check the query parameters listed in “fields”.", fields={"program": ["A program id."]})
    return in_workspace(Program, workspace, int(raw), "program")


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class MetricsViewSet(WorkspaceViewSet):
    """The rollups over a range; read-only. Not a list of rows: one report per request."""

    model = DailyMetric
    pagination_class = None
    filter_backends: list = []
    reports_not_rows = True  # tests/isolation/test_api.py: an answer that is a report, not a list of rows

    @extend_schema(
        summary="Metrics over a range",
        description=(
            "Every metric of the daily rollups over `from`..`to` (days in the workspace's time zone, both included; "
            "default: the 30 days up to today; at most "
            f"{MAX_DAYS} days), for the whole workspace or one `program`: `totals`, a `series` by `granularity` "
            "(`day`, `week` from Monday, `month`) and the dashboard's `kpis` (ROI, retention, reference win rate). "
            "400 for a malformed date or granularity, `from` after `to` or a longer range; 404 for a program of another "
            "workspace."
        ),
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="YYYY-MM-DD; default 29 days before `to`."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="YYYY-MM-DD; default today."),
            OpenApiParameter("program", OpenApiTypes.INT, description="A program's id; default every program."),
            OpenApiParameter("granularity", OpenApiTypes.STR, enum=["day", "week", "month"], description="Default `day`."),
        ],
        responses={200: MetricsSerializer, 400: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad query parameters"),
                   404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such program in this workspace")},
    )
    def list(self, request, *args, **kwargs):
        params = request.query_params
        for name in ("from", "to", "program", "granularity"):
            if "\x00" in (params.get(name) or ""):
                raise ValidationFailed("Check the query parameters listed in “fields”.", fields={name: ["Contains NUL characters."]})
        period, granularity = parse_range(workspace=self.workspace, raw_from=params.get("from"), raw_to=params.get("to"),
                                          granularity=params.get("granularity"))
        program = _program(self.workspace, params.get("program"))
        metrics = queries.Metrics(self.workspace, period, program)
        body = {
            "from": period.start, "to": period.end, "granularity": granularity, "program": program.pk if program else None,
            "totals": metrics.totals(), "series": metrics.series(granularity),
            "kpis": queries.kpis(self.workspace, period, program, metrics=metrics),
        }
        return Response(_json(body))


# --- Program costs -------------------------------------------------------------------------


class AsciiDecimalField(serializers.DecimalField):
    """A decimal written with the digits 0-9 (Python would read other scripts' digits)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not data.isascii():
            self.fail("invalid")
        return super().to_internal_value(data)


class ProgramCostSerializer(serializers.ModelSerializer):
    program = serializers.IntegerField(source="program_id", min_value=1, max_value=MAX_ID,
                                       help_text="The program's id (404 if it is not one of this workspace's).")
    category = serializers.ChoiceField(choices=CostCategory.choices)
    amount = AsciiDecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"), max_value=MAX_AMOUNT,
                                      help_text=MONEY_HELP)
    incurred_on = serializers.DateField(help_text="The day the money was spent (YYYY-MM-DD, 2000 to 2100).")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True, default=None,
                                       help_text="Who recorded it (null for an API key).")

    class Meta:
        model = ProgramCost
        fields = ["id", "program", "category", "amount", "incurred_on", "note", "created_by", "created_at"]
        read_only_fields = ["id", "created_by", "created_at"]


NO_PROGRAM = OpenApiResponse(OpenApiTypes.OBJECT, description="No such cost, or no such program in this workspace")


class ProgramCostFilter(django_filters.FilterSet):
    program = django_filters.ModelChoiceFilter(queryset=lambda request: Program.objects.all())
    category = django_filters.ChoiceFilter(choices=CostCategory.choices)
    incurred_from = django_filters.DateFilter(field_name="incurred_on", lookup_expr="gte", label="Incurred on or after")
    incurred_to = django_filters.DateFilter(field_name="incurred_on", lookup_expr="lte", label="Incurred on or before")

    class Meta:
        model = ProgramCost
        fields = ["program", "category", "incurred_from", "incurred_to"]


@extend_schema_view(
    list=extend_schema(summary="List program costs", description="Newest first. Filter by `program`, `category`, "
                                                                 "`incurred_from` and `incurred_to`."),
    retrieve=extend_schema(summary="A program cost"),
    create=extend_schema(summary="Record a program cost", description="Audited. 404 for a program of another workspace. "
                                                                      "Honours `Idempotency-Key`.",
                         parameters=[IDEMPOTENCY], responses={201: ProgramCostSerializer, 404: NO_PROGRAM}),
    update=extend_schema(summary="Replace a program cost", responses={200: ProgramCostSerializer, 404: NO_PROGRAM}),
    partial_update=extend_schema(summary="Change a program cost", responses={200: ProgramCostSerializer, 404: NO_PROGRAM}),
    destroy=extend_schema(summary="Delete a program cost", responses={204: None}),
)
class ProgramCostViewSet(CrudViewSet):
    """Money spent on programs (software, staff, rewards fulfilled, content, events)."""

    model = ProgramCost
    serializer_class = ProgramCostSerializer
    filterset_class = ProgramCostFilter

    def scope_queryset(self, queryset):
        return queryset.select_related("created_by").order_by("-incurred_on", "-id")

    def _data(self, validated: dict) -> dict:
        data = dict(validated)
        if "program_id" in data:
            data["program"] = in_workspace(Program, self.workspace, data.pop("program_id"), "program")
        return data

    @idempotent
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        cost = create_cost(workspace=self.workspace, actor=request.auth, **self._data(body.validated_data))
        return created(self.get_serializer(self.get_queryset().get(pk=cost.pk)).data)

    def perform_update(self, serializer):
        serializer.instance = update_cost(cost=serializer.instance, actor=self.request.auth, data=self._data(serializer.validated_data))

    def perform_destroy(self, instance):
        delete_cost(cost=instance, actor=self.request.auth)
