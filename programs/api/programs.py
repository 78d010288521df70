"""/api/v1/programs/ and /api/v1/asks/ (with close, open and offer)."""

from __future__ import annotations

import django_filters
from django.db import models
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from advocacy.api.base import CrudViewSet, WorkspaceViewSet, created, idempotent
from advocacy.models import Advocate, AdvocateType, Expressiveness, Motivation

from .. import services as svc
from ..models import (
    OBJECTIVE_METRICS,
    Ask,
    AskKind,
    AskStatus,
    Effort,
    Goal,
    Program,
    ProgramStatus,
)
from .assignments import AssignmentSerializer, assignment_list
from .common import IDEMPOTENCY, MAX_ID, MAX_INT, in_workspace

# --- Programs ----------------------------------------------------------------------------


class ProgramSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=120, help_text="Unique in the workspace (case-insensitive); 409 `duplicate_name` otherwise.")
    goal = serializers.ChoiceField(choices=Goal.choices, required=False, help_text="What the program is for. Default `mixed`.")
    status = serializers.ChoiceField(choices=ProgramStatus.choices, required=False,
                                     help_text="Default `active`. Archive a program instead of deleting one that has asks.")
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, help_text="What the program is for; advocates see it.")
    landing_url = serializers.URLField(max_length=500, required=False, allow_blank=True, help_text="Where referral links land.")
    objectives = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=10**12), required=False,
        help_text=f"Targets by metric, e.g. {{\"reviews\": 50, \"pipeline\": 250000}}. Metrics: {', '.join(OBJECTIVE_METRICS)}; "
                  "another key is a 400.",
    )
    onboarding_steps = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=10, required=False,
        help_text="Steps an advocate confirms before their first ask in this program (at most 10). Empty: no onboarding.",
    )

    class Meta:
        model = Program
        fields = ["id", "name", "goal", "status", "description", "landing_url", "objectives", "onboarding_steps", "created_at"]
        read_only_fields = ["id", "created_at"]


class ProgramFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ProgramStatus.choices)
    goal = django_filters.ChoiceFilter(choices=Goal.choices)

    class Meta:
        model = Program
        fields = ["status", "goal"]


@extend_schema_view(
    list=extend_schema(summary="List programs", description="By name. Filter by `status` and `goal`."),
    retrieve=extend_schema(summary="Get a program"),
    create=extend_schema(summary="Create a program", description="409 `duplicate_name` when the name is taken; 400 for an unknown objective metric."),
    update=extend_schema(summary="Replace a program", description="409 `duplicate_name` when the new name is taken."),
    partial_update=extend_schema(summary="Change a program", description="409 `duplicate_name` when the new name is taken."),
    destroy=extend_schema(
        summary="Delete a program",
        description="Only a program without asks; one with asks answers 409 `program_has_asks` (set its status to `archived` instead).",
        responses={204: None},
    ),
)
class ProgramViewSet(CrudViewSet):
    """Programs: a goal, a status, objectives and the asks that serve them."""

    model = Program
    serializer_class = ProgramSerializer
    filterset_class = ProgramFilter

    def scope_queryset(self, queryset):
        return queryset.order_by("name", "id")

    def perform_create(self, serializer):
        serializer.instance = svc.create_program(workspace=self.workspace, actor=self.request.auth, data=dict(serializer.validated_data))

    def perform_update(self, serializer):
        serializer.instance = svc.update_program(program=serializer.instance, actor=self.request.auth, data=dict(serializer.validated_data))

    def perform_destroy(self, instance):
        svc.delete_program(program=instance, actor=self.request.auth)


# --- Asks --------------------------------------------------------------------------------

# "unknown" describes a person nobody has judged yet; an audience cannot ask for it.
MOTIVATIONS = [c for c in Motivation.choices if c[0] != Motivation.UNKNOWN]
EXPRESSIVENESS = [c for c in Expressiveness.choices if c[0] != Expressiveness.UNKNOWN]


class TagNamesField(serializers.ListField):
    """Tag names, sorted; reads the (prefetched) related tags."""

    def to_representation(self, data):
        if hasattr(data, "all"):
            return sorted(tag.name for tag in data.all())
        return super().to_representation(data)


class AskProgressSerializer(serializers.Serializer):
    approved = serializers.IntegerField(help_text="Completions approved.")
    in_progress = serializers.IntegerField(help_text="Accepted or submitted, not yet decided.")
    outstanding = serializers.IntegerField(help_text="Offers waiting for an answer.")
    wanted = serializers.IntegerField(
        help_text="New offers rotation would make now: (capacity - approved - in progress) * overbook - outstanding; 0 unless open.",
    )


class AskListSerializer(serializers.ListSerializer):
    """Counts the assignments of every ask of the page in one query (no query per row)."""

    def to_representation(self, data):
        asks = list(data.all() if isinstance(data, models.Manager) else data)
        self.context["ask_counts"] = svc.ask_counts([a.pk for a in asks])
        return super().to_representation(asks)


class AskSerializer(serializers.ModelSerializer):
    program = serializers.IntegerField(source="program_id", min_value=1, max_value=MAX_ID,
                                       help_text="The program's id (404 if it is not one of this workspace's).")
    kind = serializers.ChoiceField(choices=AskKind.choices)
    title = serializers.CharField(max_length=200)
    instructions = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    effort = serializers.ChoiceField(choices=Effort.choices, required=False, help_text="Default `small`.")
    points = serializers.IntegerField(min_value=0, max_value=100_000, required=False,
                                      help_text="Credited once on approval. Guidance: small 50 to 100, medium 150 to 200, large 300 to 500.")
    capacity = serializers.IntegerField(min_value=1, max_value=100_000, required=False, help_text="Completions wanted; the ask closes when reached.")
    overbook = serializers.IntegerField(min_value=1, max_value=10, required=False, help_text="Offers per open place. Default 2.")
    deadline = serializers.DateTimeField(required=False, allow_null=True, help_text="Must be in the future. Offers and accepted work expire when it passes.")
    status = serializers.ChoiceField(
        choices=AskStatus.choices, required=False,
        help_text="`draft` or `open` (default). To close an ask use POST /asks/{id}/close, which withdraws its outstanding offers.",
    )
    audience_tags = TagNamesField(child=serializers.CharField(max_length=50), required=False, max_length=100,
                                  help_text="Tag names: advocates with any of them match. Empty: everybody. On write, replaces the list.")
    audience_types = serializers.ListField(child=serializers.ChoiceField(choices=AdvocateType.choices), required=False, max_length=20)
    audience_motivations = serializers.ListField(child=serializers.ChoiceField(choices=MOTIVATIONS), required=False, max_length=20)
    audience_expressiveness = serializers.ListField(child=serializers.ChoiceField(choices=EXPRESSIVENESS), required=False, max_length=20)
    min_tier = serializers.CharField(max_length=40, required=False, allow_blank=True, help_text="The lowest tier, by name; 400 if no tier has it.")
    tenure_min_days = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False, allow_null=True)
    tenure_max_days = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False, allow_null=True)
    prospect_industry = serializers.CharField(max_length=80, required=False, allow_blank=True)
    prospect_company_size = serializers.CharField(max_length=80, required=False, allow_blank=True)
    prospect_use_case = serializers.CharField(max_length=80, required=False, allow_blank=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Ask
        list_serializer_class = AskListSerializer
        fields = [
            "id", "program", "kind", "title", "instructions", "effort", "points", "capacity", "overbook", "deadline",
            "needs_approval", "status", "audience_tags", "audience_types", "audience_motivations", "audience_expressiveness",
            "min_tier", "tenure_min_days", "tenure_max_days", "prospect_industry", "prospect_company_size",
            "prospect_use_case", "progress", "created_at", "closed_at", "closed_reason",
        ]
        read_only_fields = ["id", "progress", "created_at", "closed_at", "closed_reason"]

    @extend_schema_field(AskProgressSerializer)
    def get_progress(self, ask: Ask) -> dict:
        counts = self.context.get("ask_counts")
        progress = svc.ask_progress(ask, counts.get(ask.pk, {}) if counts is not None else None)
        return AskProgressSerializer(progress).data


class AskFilter(django_filters.FilterSet):
    # A callable: the queryset is built per request, inside the workspace's scope.
    program = django_filters.ModelChoiceFilter(queryset=lambda request: Program.objects.all())
    status = django_filters.ChoiceFilter(choices=AskStatus.choices)
    kind = django_filters.ChoiceFilter(choices=AskKind.choices)
    effort = django_filters.ChoiceFilter(choices=Effort.choices)

    class Meta:
        model = Ask
        fields = ["program", "status", "kind", "effort"]


class CloseAskSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                   help_text="Why it closed (default: “Closed by a manager”).")


class OfferSerializer(serializers.Serializer):
    advocate = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The advocate's id (404 if not one of this workspace's).")


NO_PROGRAM = OpenApiResponse(description="No such ask, or no such program in this workspace")
OFFER_REFUSALS = (
    "409 when the ask is not open (`ask_not_open`), the advocate is not active (`advocate_not_active`), was already "
    "offered this ask (`already_offered`), has not finished the program's onboarding (`not_onboarded`), or the contact "
    "budget holds the offer back (`held_<reason>`, e.g. `held_spacing` or `held_budget`, with the hold's sentence as the message)."
)


@extend_schema_view(
    list=extend_schema(summary="List asks", description="Newest first. Filter by `program`, `status`, `kind` and `effort`."),
    retrieve=extend_schema(summary="Get an ask"),
    create=extend_schema(summary="Create an ask",
                         description="400 with field errors for a deadline in the past, an unknown tier, an inverted tenure window or `status: closed`.",
                         responses={201: AskSerializer, 404: NO_PROGRAM}),
    update=extend_schema(summary="Replace an ask", description="Reaching capacity (e.g. by lowering it) closes the ask.",
                         responses={200: AskSerializer, 404: NO_PROGRAM}),
    partial_update=extend_schema(summary="Change an ask", description="Reaching capacity (e.g. by lowering it) closes the ask.",
                                 responses={200: AskSerializer, 404: NO_PROGRAM}),
)
class AskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, WorkspaceViewSet):
    """Asks: one specific, small request each, offered to the advocates who match its audience."""

    model = Ask
    serializer_class = AskSerializer
    filterset_class = AskFilter

    def scope_queryset(self, queryset):
        return queryset.prefetch_related("audience_tags").order_by("-created_at", "-id")

    def _data(self, validated: dict) -> tuple[dict, list[str] | None]:
        data = dict(validated)
        tags = data.pop("audience_tags", None)
        if "program_id" in data:
            data["program"] = in_workspace(Program, self.workspace, data.pop("program_id"), "program")
        return data, tags

    def perform_create(self, serializer):
        data, tags = self._data(serializer.validated_data)
        ask = svc.create_ask(workspace=self.workspace, actor=self.request.auth, data=data, tags=tags or ())
        serializer.instance = self.get_queryset().get(pk=ask.pk)

    def perform_update(self, serializer):
        data, tags = self._data(serializer.validated_data)
        ask = svc.update_ask(ask=serializer.instance, actor=self.request.auth, data=data, tags=tags)
        serializer.instance = self.get_queryset().get(pk=ask.pk)

    def _answer(self, ask: Ask, code: int = status.HTTP_200_OK) -> Response:
        return Response(AskSerializer(self.get_queryset().get(pk=ask.pk), context=self.get_serializer_context()).data, status=code)

    @extend_schema(
        summary="Close an ask",
        description="No more offers; offers not yet answered and accepted work not yet submitted are withdrawn (submitted "
                    "proof still gets its decision). Closing a closed ask changes nothing.",
        request=CloseAskSerializer, responses={200: AskSerializer},
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        ask = self.get_object()
        body = CloseAskSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data["reason"].strip()
        svc.close_ask(ask=ask, actor=request.auth, **({"reason": reason} if reason else {}))
        return self._answer(ask)

    @extend_schema(
        summary="Open a draft or closed ask",
        description="409 `invalid_transition` when it is already open; 400 when its deadline has passed (set a later one first).",
        request=None, responses={200: AskSerializer},
    )
    @action(detail=True, methods=["post"])
    def open(self, request, pk=None):
        return self._answer(svc.reopen_ask(ask=self.get_object(), actor=request.auth))

    @extend_schema(
        summary="Offer the ask to one advocate by hand",
        description=f"The same rules as rotation: {OFFER_REFUSALS} The offer counts against the advocate's contact budget and "
                    "is emailed to them. Honours `Idempotency-Key`.",
        request=OfferSerializer, parameters=[IDEMPOTENCY],
        responses={201: AssignmentSerializer, 404: OpenApiResponse(description="No such ask or advocate in this workspace")},
        examples=[OpenApiExample("Offer", value={"advocate": 42}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def offer(self, request, pk=None):
        ask = self.get_object()
        body = OfferSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        advocate = in_workspace(Advocate, self.workspace, body.validated_data["advocate"], "advocate")
        assignment = svc.offer_ask(ask=ask, advocate=advocate, actor=request.auth)
        return created(AssignmentSerializer(assignment_list(self.workspace).get(pk=assignment.pk)).data)
