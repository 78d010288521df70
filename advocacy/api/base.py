"""The API's base classes. They own workspace scoping; subclasses cannot bypass it.

A request authenticated with an API key runs inside that key's workspace scope, and every
queryset is built from ``model.objects.filter(workspace=…)``, so another workspace's id is
a plain 404. Subclasses declare ``model`` and may narrow or decorate the queryset with
``scope_queryset``; defining ``get_queryset``/``get_object``/``initial`` is refused at class
creation (after PostHog's TeamAndOrgViewSetMixin).
"""

from __future__ import annotations

import hashlib
import json
from functools import wraps

from django.db import IntegrityError, models, transaction
from django_scopes import scope
from rest_framework import mixins, status, views, viewsets
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from ..errors import Conflict, DomainError, ValidationFailed
from ..models import ApiKey, IdempotencyRecord, Workspace

_PROTECTED = ("get_queryset", "get_object", "initial", "finalize_response", "dispatch")


class WorkspaceScopeMixin:
    """Enters the API key's workspace scope for the whole handler."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in _PROTECTED:
            if name in cls.__dict__ and cls.__module__ != __name__:
                raise TypeError(
                    f"{cls.__name__} may not define {name}(): the workspace scoping lives in "
                    "WorkspaceViewSet. Use scope_queryset() to narrow the queryset."
                )

    @property
    def workspace(self) -> Workspace:
        auth = self.request.auth
        assert isinstance(auth, ApiKey)
        return auth.workspace

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authenticates; raises 401 without a key
        self._workspace_scope = scope(workspace=self.workspace.pk)
        self._workspace_scope.__enter__()

    def finalize_response(self, request, response, *args, **kwargs):
        try:
            return super().finalize_response(request, response, *args, **kwargs)
        finally:
            active = getattr(self, "_workspace_scope", None)
            if active is not None:
                self._workspace_scope = None
                active.__exit__(None, None, None)


class WorkspaceAPIView(WorkspaceScopeMixin, views.APIView):
    """Base for API endpoints that are not resources of one model."""


class WorkspaceViewSet(WorkspaceScopeMixin, viewsets.GenericViewSet):
    """Base for every resource of /api/v1/. Set ``model``; override ``scope_queryset``."""

    model: type[models.Model]
    lookup_value_regex = r"[0-9]{1,18}"

    def scope_queryset(self, queryset: models.QuerySet) -> models.QuerySet:
        return queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no workspace
            return self.model.objects.none()
        queryset = self.model.objects.filter(workspace=self.workspace)
        return self.scope_queryset(queryset)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "request", None) is not None and isinstance(self.request.auth, ApiKey):
            context["workspace"] = self.workspace
        return context


class CrudViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    WorkspaceViewSet,
):
    """List, retrieve, create, update and delete within the workspace."""


# --- Idempotency-Key ---------------------------------------------------------------------

MAX_KEY_LENGTH = 255


def _body_hash(request) -> str:
    canonical = json.dumps(request.data, sort_keys=True, cls=JSONEncoder, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def idempotent(handler):
    """Honour ``Idempotency-Key`` on a POST handler of a WorkspaceScopeMixin view.

    The key row is inserted in the same transaction as the work. A concurrent repeat waits
    on the unique index until the first commits, then replays its answer; if the first
    failed, the repeat runs afresh. The same key with another body (or on another
    endpoint) is 409. Errors are not stored: a request that failed may be retried with
    its key. Records are kept for 24 hours.
    """

    @wraps(handler)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return handler(self, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValidationFailed(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.", code="bad_idempotency_key")
        digest = _body_hash(request)
        workspace = self.workspace
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        workspace=workspace, key=key, method=request.method, path=request.path[:500], request_hash=digest,
                    )
            except IntegrityError:
                first = IdempotencyRecord.objects.get(workspace=workspace, key=key)
                if first.request_hash != digest:
                    raise Conflict(
                        "This Idempotency-Key was already used with a different request; use a new key.",
                        code="idempotency_key_reused",
                    ) from None
                if first.status_code is None:
                    raise Conflict("A request with this Idempotency-Key is still in progress.", code="idempotency_in_progress") from None
                replay = Response(first.response_body, status=first.status_code)
                replay["Idempotent-Replayed"] = "true"
                return replay
            refusal: DomainError | None = None
            try:
                response = handler(self, request, *args, **kwargs)
            except DomainError as exc:
                # A refusal is not stored (the request may be retried with its key), but what
                # the service chose to keep while refusing (e.g. a held-back offer's reason)
                # commits: the service's own savepoint has already undone the rest.
                record.delete()
                refusal = exc
            if refusal is None:
                if response.status_code >= 300:
                    transaction.set_rollback(True)
                    return response
                record.status_code = response.status_code
                record.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
                record.save(update_fields=["status_code", "response_body"])
        if refusal is not None:
            raise refusal
        return response

    return wrapper


def created(data) -> Response:
    return Response(data, status=status.HTTP_201_CREATED)
