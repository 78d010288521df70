"""/api/v1/invitations/: personal invitations into the advocacy program, and resending
them. The link's token is emailed to the person and never returned by the API."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from advocacy.api.base import WorkspaceViewSet, created, idempotent
from advocacy.models import Advocate

from .. import invitations as svc
from ..models import Invitation, Program
from .common import IDEMPOTENCY, MAX_ID, in_workspace


class InvitationSerializer(serializers.ModelSerializer):
    advocate = serializers.IntegerField(source="advocate_id", read_only=True)
    program = serializers.IntegerField(source="program_id", read_only=True, allow_null=True)
    expires_at = serializers.DateTimeField(read_only=True, help_text="The link works until then (14 days after it was last sent).")
    is_open = serializers.BooleanField(read_only=True, help_text="Sent, not answered, and the link has not expired.")

    class Meta:
        model = Invitation
        fields = ["id", "advocate", "program", "inviter_name", "note", "why_chosen", "whats_in_it", "what_taking_part_looks_like",
                  "status", "is_open", "sent_at", "expires_at", "send_count", "responded_at", "created_at"]
        read_only_fields = fields


class InviteSerializer(serializers.Serializer):
    advocate = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Who to invite (404 if not one of this workspace's).")
    program = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True,
                                       help_text="Optional: the program they join on accepting (404 if not one of this workspace's).")
    inviter_name = serializers.CharField(max_length=120, help_text="The named manager the note comes from.")
    note = serializers.CharField(max_length=svc.MAX_TEXT, help_text="A personal note: it is what makes people say yes.")
    why_chosen = serializers.CharField(max_length=svc.MAX_TEXT, required=False, allow_blank=True, default="")
    whats_in_it = serializers.CharField(max_length=svc.MAX_TEXT, required=False, allow_blank=True, default="",
                                        help_text="What is in it for them.")
    what_taking_part_looks_like = serializers.CharField(max_length=svc.MAX_TEXT, required=False, allow_blank=True, default="")


class InvitationFilter(django_filters.FilterSet):
    # Callables: the querysets are built per request, inside the workspace's scope.
    advocate = django_filters.ModelChoiceFilter(queryset=lambda request: Advocate.objects.all())
    program = django_filters.ModelChoiceFilter(queryset=lambda request: Program.objects.all())
    status = django_filters.ChoiceFilter(choices=Invitation.Status.choices)

    class Meta:
        model = Invitation
        fields = ["advocate", "program", "status"]


NOT_INVITABLE = ("409 `not_invitable` when the person cannot be invited (already active, opted out, erased, or takes no "
                 "email), with the reason as the message; 409 `program_not_active` for a paused or archived program.")


@extend_schema_view(
    list=extend_schema(summary="List invitations", description="Most recently sent first. Filter by `advocate`, `program` and `status`."),
    retrieve=extend_schema(summary="Get an invitation"),
)
class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Invitations: a personal note from a named manager, with a link valid for 14 days."""

    model = Invitation
    serializer_class = InvitationSerializer
    filterset_class = InvitationFilter

    def scope_queryset(self, queryset):
        return queryset.order_by("-sent_at", "-id")

    @extend_schema(
        summary="Invite an advocate",
        description=f"Emails the invitation; a candidate becomes `invited`, and an open invitation of theirs is replaced. {NOT_INVITABLE} "
                    "Honours `Idempotency-Key`.",
        request=InviteSerializer, parameters=[IDEMPOTENCY],
        responses={201: InvitationSerializer, 404: OpenApiResponse(description="No such advocate or program in this workspace")},
        examples=[OpenApiExample("Invite", request_only=True, value={
            "advocate": 42, "inviter_name": "Maya Lopez", "note": "You helped three teams this quarter; would you join us?",
            "why_chosen": "Your answers in the community", "whats_in_it": "Early access and points"})],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        body = InviteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        advocate = in_workspace(Advocate, self.workspace, data.pop("advocate"), "advocate")
        program = in_workspace(Program, self.workspace, data.pop("program", None), "program")
        inviter_name = data.pop("inviter_name")
        sent = svc.invite_advocate(advocate=advocate, actor=request.auth, message=data, inviter_name=inviter_name, program=program)
        return created(InvitationSerializer(sent.invitation).data)

    @extend_schema(
        summary="Resend an invitation",
        description="Emails it again with a new link, valid 14 days from now (the old link stops working). 409 "
                    f"`invalid_transition` once it was accepted, declined or replaced. {NOT_INVITABLE} Honours `Idempotency-Key`.",
        request=None, parameters=[IDEMPOTENCY], responses={200: InvitationSerializer},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def resend(self, request, pk=None):
        sent = svc.resend_invitation(invitation=self.get_object(), actor=request.auth)
        return Response(InvitationSerializer(self.get_queryset().get(pk=sent.invitation.pk)).data)
