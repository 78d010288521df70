"""/api/v1/tasks/: the managers' task list (check-ins, follow-ups, suggestions), which jobs
open and people close with notes on what was done."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from ..models import Advocate, Task, TaskKind
from ..services.tasks import MAX_NOTES, close_task, reopen_task
from .base import WorkspaceViewSet


class TaskSerializer(serializers.ModelSerializer):
    advocate = serializers.IntegerField(source="advocate_id", read_only=True, allow_null=True, help_text="Who it is about, if anyone.")
    assigned_to = serializers.EmailField(source="assigned_to.email", read_only=True, allow_null=True)
    done_by = serializers.EmailField(source="done_by.email", read_only=True, allow_null=True,
                                     help_text="Who closed it (null when closed through the API or by a job).")

    class Meta:
        model = Task
        fields = ["id", "advocate", "kind", "title", "detail", "status", "notes", "assigned_to", "created_at", "done_at", "done_by"]
        read_only_fields = fields


class CloseTaskSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Task.Status.DONE, Task.Status.DISMISSED], required=False, default=Task.Status.DONE,
                                     help_text="`done` (default) or `dismissed`.")
    notes = serializers.CharField(max_length=MAX_NOTES, required=False, allow_blank=True, default="", help_text="What was done.")


class TaskFilter(django_filters.FilterSet):
    # A callable: the queryset is built per request, inside the workspace's scope.
    advocate = django_filters.ModelChoiceFilter(queryset=lambda request: Advocate.objects.all())
    status = django_filters.ChoiceFilter(choices=Task.Status.choices)
    kind = django_filters.ChoiceFilter(choices=TaskKind.choices)

    class Meta:
        model = Task
        fields = ["advocate", "status", "kind"]


@extend_schema_view(
    list=extend_schema(summary="List tasks", description="Newest first. Filter by `status`, `kind` and `advocate`."),
    retrieve=extend_schema(summary="Get a task"),
)
class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Tasks for managers: personal check-ins, detractor follow-ups, alumni suggestions."""

    model = Task
    serializer_class = TaskSerializer
    filterset_class = TaskFilter

    def scope_queryset(self, queryset):
        return queryset.select_related("assigned_to", "done_by").order_by("-created_at", "-id")

    def _answer(self, task: Task) -> Response:
        return Response(TaskSerializer(self.get_queryset().get(pk=task.pk)).data)

    @extend_schema(summary="Close a task", request=CloseTaskSerializer, responses={200: TaskSerializer},
                   description="As done or dismissed, with notes. 409 `invalid_transition` when it is already closed.")
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        task = self.get_object()
        body = CloseTaskSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(close_task(task=task, actor=request.auth, notes=body.validated_data["notes"],
                                       status=body.validated_data["status"]))

    @extend_schema(summary="Reopen a closed task", request=None, responses={200: TaskSerializer},
                   description="409 `invalid_transition` when it is open.")
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._answer(reopen_task(task=self.get_object(), actor=request.auth))
