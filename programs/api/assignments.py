"""/api/v1/assignments/ (an endpoint per transition, and the outcomes of each) and
/api/v1/outcomes/.

Which state may follow which is said once, in programs/states.py; a transition the
current state does not allow is 409 `invalid_transition` with its message, and changes
nothing."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from advocacy.api.base import WorkspaceViewSet, created, idempotent
from advocacy.api.parsers import StrictJSONParser
from advocacy.models import Advocate

from .. import services as svc
from .. import states
from ..models import Ask, Assignment, AssignmentState, DealStatus, Outcome, OutcomeKind, Program
from .common import IDEMPOTENCY, MAX_INT

# The endpoint that causes each transition (expiry is the job's, not an endpoint).
ACTIONS = {target: verb for target, verb in states.VERBS.items() if target != AssignmentState.EXPIRED}
ACTION_NAMES = sorted(ACTIONS.values())


def assignment_list(workspace):
    return Assignment.objects.filter(workspace=workspace).select_related("ask", "advocate")


class AssignmentSerializer(serializers.ModelSerializer):
    ask = serializers.IntegerField(source="ask_id", read_only=True)
    ask_title = serializers.CharField(source="ask.title", read_only=True)
    ask_kind = serializers.CharField(source="ask.kind", read_only=True)
    program = serializers.IntegerField(source="program_id", read_only=True)
    advocate = serializers.IntegerField(source="advocate_id", read_only=True)
    advocate_name = serializers.CharField(source="advocate.display_name", read_only=True)
    points = serializers.IntegerField(source="ask.points", read_only=True, help_text="What approval credits (once).")
    points_entry = serializers.IntegerField(source="points_entry_id", read_only=True, allow_null=True,
                                            help_text="The ledger entry that credited the points, once approved.")
    proof_file = serializers.SerializerMethodField(help_text="The uploaded proof's file name, if any.")
    actions = serializers.SerializerMethodField(
        help_text=f"The transition endpoints that the current state allows (of {', '.join(ACTION_NAMES)}); empty once final.",
    )

    class Meta:
        model = Assignment
        fields = [
            "id", "ask", "ask_title", "ask_kind", "program", "advocate", "advocate_name", "state", "actions", "source",
            "offered_at", "offer_expires_at", "accepted_at", "submitted_at", "decided_at", "reason", "proof_url",
            "proof_text", "proof_file", "points", "points_entry",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_proof_file(self, assignment: Assignment) -> str | None:
        return assignment.proof_file.name.rsplit("/", 1)[-1] if assignment.proof_file else None

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=ACTION_NAMES)))
    def get_actions(self, assignment: Assignment) -> list[str]:
        return sorted(ACTIONS[t] for t in states.TRANSITIONS.get(assignment.state, ()) if t in ACTIONS)


class AssignmentFilter(django_filters.FilterSet):
    # Callables: the querysets are built per request, inside the workspace's scope.
    ask = django_filters.ModelChoiceFilter(queryset=lambda request: Ask.objects.all())
    program = django_filters.ModelChoiceFilter(queryset=lambda request: Program.objects.all())
    advocate = django_filters.ModelChoiceFilter(queryset=lambda request: Advocate.objects.all())
    state = django_filters.ChoiceFilter(choices=AssignmentState.choices)

    class Meta:
        model = Assignment
        fields = ["ask", "program", "advocate", "state"]


class OptionalReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="", help_text="Optional.")


class RejectionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="Required; the advocate reads it.")


class ProofSerializer(serializers.Serializer):
    proof_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="", help_text="A link (http or https).")
    proof_text = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="", help_text="A few words.")


class ProofUploadSerializer(ProofSerializer):
    proof_file = serializers.FileField(
        required=False, help_text=f"A {', '.join(sorted(e.lstrip('.') for e in svc.PROOF_TYPES))} file of at most "
                                  f"{svc.MAX_PROOF_BYTES // 1024 // 1024} MB.",
    )


# --- Outcomes ----------------------------------------------------------------------------

def outcome_list(workspace):
    return Outcome.objects.filter(workspace=workspace).order_by("-created_at", "-id")


class OutcomeSerializer(serializers.ModelSerializer):
    assignment = serializers.IntegerField(source="assignment_id", read_only=True)
    program = serializers.IntegerField(source="program_id", read_only=True)
    advocate = serializers.IntegerField(source="advocate_id", read_only=True)
    kind = serializers.ChoiceField(choices=OutcomeKind.choices, help_text="`deal`, `review` or `reach`: which fields are required follows from it.")
    deal_name = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="Required for a deal.")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True,
                                      help_text="Required for a deal (0 or more).")
    deal_status = serializers.ChoiceField(choices=DealStatus.choices, required=False, allow_blank=True,
                                          help_text="Required for a deal: open, won or lost. Winning one emails the advocate.")
    url = serializers.URLField(max_length=500, required=False, allow_blank=True, help_text="Required for a review: its link.")
    reach = serializers.IntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True, help_text="Required for reach: people reached.")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, help_text="A line for the advocate.")

    class Meta:
        model = Outcome
        fields = ["id", "assignment", "program", "advocate", "kind", "deal_name", "amount", "deal_status", "url", "reach", "note",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "assignment", "program", "advocate", "created_at", "updated_at"]


class OutcomeFilter(django_filters.FilterSet):
    assignment = django_filters.ModelChoiceFilter(queryset=lambda request: Assignment.objects.all())
    advocate = django_filters.ModelChoiceFilter(queryset=lambda request: Advocate.objects.all())
    program = django_filters.ModelChoiceFilter(queryset=lambda request: Program.objects.all())
    kind = django_filters.ChoiceFilter(choices=OutcomeKind.choices)
    deal_status = django_filters.ChoiceFilter(choices=DealStatus.choices)

    class Meta:
        model = Outcome
        fields = ["assignment", "advocate", "program", "kind", "deal_status"]


TRANSITION_409 = "409 `invalid_transition` (with what is possible instead) when the current state does not allow it; nothing changes."


@extend_schema_view(
    list=extend_schema(summary="List assignments", description="Newest offers first. Filter by `ask`, `program`, `advocate` and `state`."),
    retrieve=extend_schema(summary="Get an assignment"),
)
class AssignmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Assignments: an ask offered to one advocate, and what became of it. States:
    offered → accepted → submitted → approved; also declined, expired, rejected, withdrawn."""

    model = Assignment
    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilter

    def scope_queryset(self, queryset):
        return queryset.select_related("ask", "advocate").order_by("-offered_at", "-id")

    def _answer(self, assignment: Assignment) -> Response:
        return Response(AssignmentSerializer(self.get_queryset().get(pk=assignment.pk)).data, status=status.HTTP_200_OK)

    @extend_schema(summary="Accept an offer (for the advocate)", request=None, responses={200: AssignmentSerializer},
                   description=f"offered → accepted. {TRANSITION_409} An offer past its week or its ask's deadline is expired "
                               "instead, with 409 `expired`.")
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._answer(svc.accept_assignment(assignment=self.get_object(), actor=request.auth))

    @extend_schema(summary="Decline an offer (for the advocate)", request=OptionalReasonSerializer, responses={200: AssignmentSerializer},
                   description=f"offered → declined, with an optional reason. {TRANSITION_409}")
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        assignment = self.get_object()
        body = OptionalReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(svc.decline_assignment(assignment=assignment, actor=request.auth, reason=body.validated_data["reason"]))

    @extend_schema(
        summary="Submit proof (for the advocate)",
        description=(
            "accepted → submitted, with a link, a text or a file (at least one; send the file as multipart/form-data). "
            "An ask that needs no approval is approved at once and its points credited. "
            f"{TRANSITION_409} 400 for a missing proof, a bad link, or a file of the wrong type or size."
        ),
        request={"application/json": ProofSerializer, "multipart/form-data": ProofUploadSerializer},
        responses={200: AssignmentSerializer},
        examples=[OpenApiExample("A link", value={"proof_url": "https://g2.com/reviews/123"}, request_only=True)],
    )
    @action(detail=True, methods=["post"], parser_classes=[StrictJSONParser, MultiPartParser])
    def submit(self, request, pk=None):
        assignment = self.get_object()
        body = ProofUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return self._answer(svc.submit_proof(assignment=assignment, actor=request.auth, url=data["proof_url"],
                                             text=data["proof_text"], upload=data.get("proof_file")))

    @extend_schema(
        summary="Approve the proof",
        description=(
            "submitted → approved. Credits the ask's points exactly once (ledger idempotency key `assignment:<id>`), "
            "thanks the advocate, and closes the ask when it is filled, withdrawing its outstanding offers. "
            f"{TRANSITION_409} A second approval is such a 409 and credits nothing. Honours `Idempotency-Key`."
        ),
        request=None, parameters=[IDEMPOTENCY], responses={200: AssignmentSerializer},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def approve(self, request, pk=None):
        return self._answer(svc.approve_assignment(assignment=self.get_object(), actor=request.auth))

    @extend_schema(summary="Reject the proof", request=RejectionSerializer, responses={200: AssignmentSerializer},
                   description=f"submitted → rejected, with a reason the advocate reads (emailed). {TRANSITION_409}")
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        assignment = self.get_object()
        body = RejectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(svc.reject_assignment(assignment=assignment, actor=request.auth, reason=body.validated_data["reason"]))

    @extend_schema(summary="Withdraw an offer or accepted work", request=OptionalReasonSerializer, responses={200: AssignmentSerializer},
                   description=f"offered or accepted → withdrawn (default reason: “Withdrawn by a manager”). {TRANSITION_409}")
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        assignment = self.get_object()
        body = OptionalReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = " ".join(body.validated_data["reason"].split())
        return self._answer(svc.withdraw_assignment(assignment=assignment, actor=request.auth, **({"reason": reason} if reason else {})))

    @extend_schema(summary="List the outcomes of an assignment", request=None, responses={200: OutcomeSerializer(many=True)},
                   description="Newest first, paginated like every list. The same as GET /outcomes/?assignment={id}.")
    @action(detail=True, methods=["get"], url_path="outcomes", filter_backends=[])
    def outcomes(self, request, pk=None):
        assignment = self.get_object()
        page = self.paginate_queryset(outcome_list(self.workspace).filter(assignment=assignment))
        return self.get_paginated_response(OutcomeSerializer(page, many=True).data)

    @extend_schema(
        summary="Record an outcome of an approved assignment",
        description="A deal it influenced (`deal_name`, `amount`, `deal_status`), a published review (`url`) or reach "
                    "(`reach`). The advocate sees it in their impact feed and by email. 409 `invalid_transition` unless "
                    "the assignment is approved; 400 when the fields its kind needs are missing. Honours `Idempotency-Key`.",
        request=OutcomeSerializer, parameters=[IDEMPOTENCY], responses={201: OutcomeSerializer},
        examples=[OpenApiExample("A won deal", value={"kind": "deal", "deal_name": "Acme", "amount": "48000.00", "deal_status": "won"},
                                 request_only=True)],
    )
    @outcomes.mapping.post
    @idempotent
    def record_outcome(self, request, pk=None):
        assignment = self.get_object()
        body = OutcomeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = svc.record_outcome(assignment=assignment, actor=request.auth, data=dict(body.validated_data))
        return created(OutcomeSerializer(outcome_list(self.workspace).get(pk=outcome.pk)).data)


@extend_schema_view(
    list=extend_schema(summary="List outcomes", description="Newest first. Filter by `assignment`, `advocate`, `program`, `kind` and `deal_status`."),
    retrieve=extend_schema(summary="Get an outcome"),
    partial_update=extend_schema(
        summary="Change an outcome",
        description="E.g. the deal was won (the advocate is emailed when a deal becomes won). The fields the kind needs "
                    "must hold after the change; 400 otherwise. Record outcomes with POST /assignments/{id}/outcomes.",
    ),
)
class OutcomeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """What approved assignments achieved (closing the loop with the advocate)."""

    model = Outcome
    serializer_class = OutcomeSerializer
    filterset_class = OutcomeFilter

    def scope_queryset(self, queryset):
        return queryset.order_by("-created_at", "-id")

    def partial_update(self, request, *args, **kwargs):
        outcome = self.get_object()
        body = OutcomeSerializer(outcome, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        outcome = svc.update_outcome(outcome=outcome, actor=request.auth, data=dict(body.validated_data))
        return Response(OutcomeSerializer(self.get_queryset().get(pk=outcome.pk)).data)
