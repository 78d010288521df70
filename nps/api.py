"""/api/v1/nps/surveys/ (CRUD, ``summary`` and ``send``) and /api/v1/nps/responses/ (list
and create for integrations).

The rules live in nps/services.py (validation, states, sending, the answer loop) and the
figures in nps/queries.py; these views parse, look up within the key's workspace and
answer."""

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

from advocacy.api.base import CrudViewSet, WorkspaceViewSet, idempotent
from advocacy.errors import ValidationFailed
from advocacy.models import Advocate, AdvocateType, Stage
from advocacy.queries import UtcIsoDateTimeFilter

from . import queries
from .models import (
    Audience,
    Category,
    ResponseChannel,
    Schedule,
    Survey,
    SurveyChannel,
    SurveyResponse,
    SurveyStatus,
)

MAX_ID = 10**18
IDEMPOTENCY = OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                               description="Makes the POST safe to retry: a repeat with the same body replays the first answer.")
SETTABLE = [(s.value, s.label) for s in (SurveyStatus.DRAFT, SurveyStatus.ACTIVE, SurveyStatus.PAUSED)]


def services():
    from . import services as svc

    return svc


class StrictIntegerField(serializers.IntegerField):
    """A whole number as a JSON number or ASCII digits: no booleans, no "10.0", no digits
    of other scripts (Python's int() reads Arabic-Indic ten as 10)."""

    def to_internal_value(self, data):
        if isinstance(data, bool | float):
            self.fail("invalid")
        if isinstance(data, str):
            text = data.strip()
            if not (text.isascii() and text.isdigit() and len(text) <= 19):
                self.fail("invalid")
        return super().to_internal_value(data)


# --- Surveys ------------------------------------------------------------------------------


class SurveySerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=120, help_text="Unique in the workspace (case-insensitive); 400 on `name` otherwise.")
    question = serializers.CharField(max_length=300, required=False,
                                     help_text="`{company}` is replaced by the workspace's name. Default: the standard NPS question.")
    follow_up_question = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                               help_text="Asked after the score; empty: no comment is asked.")
    audience = serializers.ChoiceField(choices=Audience.choices, required=False,
                                       help_text="Who is surveyed: `all`, a `tag`, a `type` or a `stage`. Default `all`. "
                                                 "Opted-out and erased people never are.")
    audience_tag = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True,
                                         help_text="The tag's name; required when `audience` is `tag` (400 for an unknown tag).")
    audience_type = serializers.ChoiceField(choices=AdvocateType.choices, required=False, allow_blank=True,
                                            help_text="Required when `audience` is `type`.")
    audience_stage = serializers.ChoiceField(choices=[c for c in Stage.choices if c[0] != Stage.OPTED_OUT], required=False,
                                             allow_blank=True, help_text="Required when `audience` is `stage`.")
    channels = serializers.ListField(child=serializers.ChoiceField(choices=SurveyChannel.choices), required=False, max_length=2,
                                     help_text="`email`, `portal` or both (default both). Each person gets email when they "
                                               "accept it, else the portal when they use it, else they are held back.")
    schedule = serializers.ChoiceField(choices=Schedule.choices, required=False, help_text="`once` (default) or `recurring`.")
    every_days = StrictIntegerField(min_value=1, max_value=730, required=False, allow_null=True,
                                    help_text="Days between rounds; required for a recurring survey.")
    auto_invite_promoters = serializers.BooleanField(required=False, help_text="Invite candidates who answer 9 or 10.")
    status = serializers.ChoiceField(
        choices=SurveyStatus.choices, required=False,
        help_text="`draft` (default), `active` (sends when `next_run_at` comes) or `paused`. `done` is read-only: a one-off "
                  "survey after its round (setting it is a 400; sending `done` back unchanged on a done survey, as a PUT of what "
                  "was read, is accepted).",
    )
    next_run_at = serializers.DateTimeField(required=False, allow_null=True,
                                            help_text="When the next round goes out; activating without one means now.")

    class Meta:
        model = Survey
        fields = ["id", "name", "question", "follow_up_question", "audience", "audience_tag", "audience_type", "audience_stage",
                  "channels", "schedule", "every_days", "auto_invite_promoters", "status", "next_run_at", "last_run_at",
                  "rounds", "created_at"]
        read_only_fields = ["id", "last_run_at", "rounds", "created_at"]

    def validate_status(self, value):
        if value == SurveyStatus.DONE and self.instance is not None and self.instance.status == SurveyStatus.DONE:
            return value  # a PUT of what was read back: unchanged
        if value not in dict(SETTABLE):
            raise serializers.ValidationError("Set draft, active or paused; a one-off survey becomes done after its round.")
        return value

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["audience_tag"] = instance.audience_tag.name if instance.audience_tag_id else None
        return data


class SurveyFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SurveyStatus.choices)

    class Meta:
        model = Survey
        fields = ["status"]


class MonthSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="The calendar month in the workspace's time zone, `YYYY-MM`.")
    nps = serializers.FloatField(allow_null=True, help_text="One decimal; null for a month without answers.")
    responses = serializers.IntegerField()
    promoters = serializers.IntegerField()
    passives = serializers.IntegerField()
    detractors = serializers.IntegerField()


class SummarySerializer(serializers.Serializer):
    nps = serializers.FloatField(allow_null=True, help_text="100 * (promoters - detractors) / responses, one decimal, "
                                                            "from -100 to 100; null with no responses.")
    responses = serializers.IntegerField()
    promoters = serializers.IntegerField(help_text="Scores 9 and 10.")
    passives = serializers.IntegerField(help_text="Scores 7 and 8.")
    detractors = serializers.IntegerField(help_text="Scores 0 to 6.")
    sent = serializers.IntegerField(help_text="People the survey was sent to, each counted once per round (a recurring "
                                              "survey may ask the same person again after 90 days).")
    response_rate = serializers.FloatField(allow_null=True, help_text="responses / sent as a percentage with one decimal; "
                                                                      "null when nobody was sent it.")
    by_month = MonthSerializer(many=True, help_text="The last `months` calendar months, oldest first.")


class RoundSerializer(serializers.Serializer):
    round = serializers.IntegerField(help_text="The round's number.")
    sent = serializers.IntegerField(help_text="People sent the survey in this round.")
    held = serializers.IntegerField(help_text="People held back (90-day throttle, contact budget, no channel), with the "
                                              "reason recorded.")


def summary_of(survey: Survey, months: int) -> dict:
    data = queries.survey_figures(survey).as_dict()
    data["by_month"] = [{"month": f"{m:%Y-%m}", **{k: v for k, v in f.as_dict().items() if k not in ("sent", "response_rate")}}
                        for m, f in queries.trend_by_month(survey.workspace, survey=survey, months=months)]
    return data


def _months(value) -> int:
    if value is None or value == "":
        return 12
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 2 and 1 <= int(text) <= 60):
        raise ValidationFailed("months is a whole number from 1 to 60.", fields={"months": ["A whole number from 1 to 60."]})
    return int(text)


@extend_schema_view(
    list=extend_schema(summary="List NPS surveys", description="Newest first. Filter by `status`."),
    retrieve=extend_schema(summary="An NPS survey"),
    create=extend_schema(summary="Create an NPS survey",
                         description="400 with per-field messages: a `tag` audience without a known tag, a recurring survey "
                                     "without `every_days`, no channel, a taken name."),
    update=extend_schema(summary="Replace an NPS survey", description="A one-off survey that has run (`done`) keeps its status (409)."),
    partial_update=extend_schema(summary="Change an NPS survey"),
    destroy=extend_schema(summary="Delete an NPS survey",
                          description="Only a survey that was never sent; one with sends answers 409 `survey_has_sends` "
                                      "(pause it instead: its answers count in the reports).",
                          responses={204: None}),
)
class SurveyViewSet(CrudViewSet):
    """NPS surveys: the question, the audience, the channels and the schedule."""

    model = Survey
    serializer_class = SurveySerializer
    filterset_class = SurveyFilter

    def scope_queryset(self, queryset):
        return queryset.select_related("audience_tag").order_by("-created_at", "-id")

    @staticmethod
    def _data(serializer) -> dict:
        data = dict(serializer.validated_data)
        if data.get("audience_tag") == "":
            data["audience_tag"] = None
        return data

    def perform_create(self, serializer):
        serializer.instance = services().create_survey(workspace=self.workspace, actor=self.request.auth, data=self._data(serializer))

    def perform_update(self, serializer):
        serializer.instance = services().update_survey(survey=serializer.instance, actor=self.request.auth, data=self._data(serializer))

    def perform_destroy(self, instance):
        services().delete_survey(survey=instance, actor=self.request.auth)

    @extend_schema(
        summary="The survey's NPS, counts, response rate and trend by month",
        parameters=[OpenApiParameter("months", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False,
                                     description="Months of `by_month`, 1 to 60 (default 12).")],
        responses={200: SummarySerializer},
        examples=[OpenApiExample("Summary", response_only=True, value={
            "nps": 33.3, "responses": 3, "promoters": 2, "passives": 0, "detractors": 1, "sent": 10, "response_rate": 30.0,
            "by_month": [{"month": "2026-05", "nps": None, "responses": 0, "promoters": 0, "passives": 0, "detractors": 0},
                         {"month": "2026-06", "nps": 33.3, "responses": 3, "promoters": 2, "passives": 0, "detractors": 1}]})],
    )
    @action(detail=True, methods=["get"])
    def summary(self, request, pk=None):
        survey = self.get_object()
        survey.workspace = self.workspace
        return Response(SummarySerializer(summary_of(survey, _months(request.query_params.get("months")))).data)

    @extend_schema(
        summary="Send a round now",
        description=("Sends one round at once (the manager's “Send now”), whatever `next_run_at` says: the audience minus "
                     "people surveyed in the last 90 days, people whose contact budget is used up and people with no channel "
                     "they accept (each recorded with the reason). 409 for a one-off survey that has run, or while another "
                     "round of it is being sent. Honours `Idempotency-Key`."),
        request=None, parameters=[IDEMPOTENCY], responses={200: RoundSerializer},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def send(self, request, pk=None):
        result = services().send_survey_now(survey=self.get_object(), actor=request.auth)
        return Response(RoundSerializer({"round": result.round, "sent": result.sent, "held": result.held}).data)


# --- Responses ------------------------------------------------------------------------------


class ResponseSerializer(serializers.ModelSerializer):
    survey = serializers.IntegerField(source="survey_id", read_only=True, allow_null=True,
                                      help_text="Null for an answer an integration posted without a survey.")
    advocate = serializers.IntegerField(source="advocate_id", read_only=True)
    category = serializers.ChoiceField(choices=Category.choices, read_only=True,
                                       help_text="`promoter` (9-10), `passive` (7-8) or `detractor` (0-6).")
    channel = serializers.ChoiceField(choices=ResponseChannel.choices, read_only=True)
    advocate_type = serializers.ChoiceField(choices=AdvocateType.choices, read_only=True, help_text="The person's type when they answered.")
    advocate_stage = serializers.ChoiceField(choices=Stage.choices, read_only=True, help_text="The person's stage when they answered.")
    follow_up_task = serializers.IntegerField(source="follow_up_task_id", read_only=True, allow_null=True,
                                              help_text="The detractor follow-up task (/api/v1/tasks/{id}), if one was opened.")

    class Meta:
        model = SurveyResponse
        fields = ["id", "survey", "advocate", "score", "category", "comment", "channel", "external_id", "advocate_type",
                  "advocate_stage", "answered_at", "updated_at", "follow_up_task"]
        read_only_fields = fields


class ResponseCreateSerializer(serializers.Serializer):
    advocate = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False,
                                  help_text="The person's id. Give exactly one of `advocate`, `advocate_email`, `advocate_external_id`.")
    advocate_email = serializers.EmailField(max_length=254, required=False, help_text="Or the person's email.")
    advocate_external_id = serializers.CharField(max_length=100, required=False, help_text="Or the person's external id.")
    score = StrictIntegerField(min_value=0, max_value=10, help_text="0 to 10.")
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="", trim_whitespace=True)
    survey = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True,
                                help_text="The survey it answers, if any (404 for another workspace's).")
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True,
                                        help_text="Your id for the answer: a repeat returns the first answer (200) and never counts twice.")
    answered_at = serializers.DateTimeField(required=False, help_text="When they answered; now by default. From 2000-01-01 to at most a day "
                                                                  "ahead (else 400). A detractor's \"no asks\" runs from "
                                                                  "this time; an answer older than the quiet period opens no "
                                                                  "follow-up task, and a promoter's older than 90 days adds no "
                                                                  "badge fact or invitation.")

    def validate(self, attrs):
        given = [k for k in ("advocate", "advocate_email", "advocate_external_id") if attrs.get(k) not in (None, "")]
        if len(given) != 1:
            raise serializers.ValidationError({"advocate": ["Give exactly one of advocate, advocate_email or advocate_external_id."]})
        for key in ("comment", "external_id", "advocate_external_id"):
            if isinstance(attrs.get(key), str) and "\x00" in attrs[key]:
                raise serializers.ValidationError({key: ["May not contain NUL characters."]})
        return attrs


class ResponseFilter(django_filters.FilterSet):
    # Callables: the querysets are built per request, inside the workspace's scope.
    survey = django_filters.ModelChoiceFilter(queryset=lambda request: Survey.objects.all())
    advocate = django_filters.ModelChoiceFilter(queryset=lambda request: Advocate.objects.all())
    category = django_filters.ChoiceFilter(choices=Category.choices)
    channel = django_filters.ChoiceFilter(choices=ResponseChannel.choices)
    answered_after = UtcIsoDateTimeFilter(field_name="answered_at", lookup_expr="gte",
                                          label="Answered at or after (ISO 8601)")
    answered_before = UtcIsoDateTimeFilter(field_name="answered_at", lookup_expr="lt",
                                           label="Answered before (ISO 8601)")

    class Meta:
        model = SurveyResponse
        fields = ["survey", "advocate", "category", "channel", "answered_after", "answered_before"]


def _advocate(workspace, data) -> Advocate:
    people = Advocate.objects.filter(workspace=workspace, erased_at__isnull=True)
    if data.get("advocate"):
        found = people.filter(pk=data["advocate"]).first()
    elif data.get("advocate_email"):
        found = people.filter(email__iexact=data["advocate_email"].strip()).order_by("pk").first()
    else:
        found = people.filter(external_id=data["advocate_external_id"].strip()).first()
    if found is None:
        raise Http404("No such advocate.")
    return found


@extend_schema_view(
    list=extend_schema(summary="List NPS answers",
                       description="Newest first. Filter by `survey`, `advocate`, `category`, `channel`, "
                                   "`answered_after` and `answered_before` (ISO 8601)."),
    retrieve=extend_schema(summary="An NPS answer"),
)
class ResponseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """NPS answers: from the emailed links, the portal, and integrations."""

    model = SurveyResponse
    serializer_class = ResponseSerializer
    filterset_class = ResponseFilter

    def scope_queryset(self, queryset):
        return queryset.order_by("-answered_at", "-id")

    @extend_schema(
        summary="Record an answer from an integration",
        description=("The person by `advocate` (id), `advocate_email` or `advocate_external_id` (404 if none matches in this "
                     "workspace). The answer runs the loop: a promoter counts for their advocacy score and badges (and is "
                     "invited when the survey says so), a detractor opens a follow-up task and gets no asks for 90 days. "
                     "201 for a new answer; 200 with the first answer when `external_id` repeats. Honours `Idempotency-Key`."),
        request=ResponseCreateSerializer, parameters=[IDEMPOTENCY],
        responses={201: ResponseSerializer,
                   200: OpenApiResponse(ResponseSerializer, description="A repeat of the external id: the first answer"),
                   404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such advocate or survey in this workspace")},
        examples=[OpenApiExample("Answer", request_only=True, value={
            "advocate_email": "ada@example.com", "score": 9, "comment": "Great support", "external_id": "typeform-8812"})],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        body = ResponseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        advocate = _advocate(self.workspace, data)
        survey = None
        if data.get("survey") is not None:
            survey = Survey.objects.filter(workspace=self.workspace, pk=data["survey"]).first()
            if survey is None:
                raise Http404("No such survey.")
        response, created = services().record_api_response(
            workspace=self.workspace, advocate=advocate, score=data["score"], comment=data.get("comment", ""), survey=survey,
            external_id=data.get("external_id"), answered_at=data.get("answered_at"),
        )
        return Response(ResponseSerializer(response).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

