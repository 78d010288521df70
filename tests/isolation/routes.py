"""The isolation suite's map of the site: every URL pattern, found by walking the resolver,
and how to build a value for every URL keyword argument.

Nothing here lists routes by hand. ``all_routes()`` walks ``get_resolver()`` (through every
``include``) and sorts each pattern into an area:

- ``manager``  under ``/w/<slug>/``       (staff pages of one workspace)
- ``portal``   under ``/portal/<slug>/``  (the member portal of one workspace)
- ``api``      under ``/api/v1/``         (must come from a viewset in the router's registry)
- ``admin``    the operator's Django admin (namespace ``admin``)
- ``accounts`` allauth's sign-in pages
- ``public``   everything else, which must be listed in ``PUBLIC_ROUTES`` with a reason

A new route is then covered by the rules in tests/isolation/test_*.py automatically. What
a new route may need is a line in ``KWARGS`` (how to build its URL keyword arguments; an
object id is built as an object *of the workspace under test*, so the rules can hand one
workspace's pages another workspace's ids) or, for the API, in ``API_OBJECTS``. A route
whose keyword argument is not registered fails the suite with a message that says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

from advocacy.models import (
    OutboxMessage,
    Role,
    hash_token,
)
from advocacy.services.workspaces import create_api_key
from tests.factories import (
    ActivityEventFactory,
    AdvocateFactory,
    ImportJobFactory,
    MembershipFactory,
    StaffInvitationFactory,
)

REGISTRY_FILE = "tests/isolation/routes.py"

MANAGER_PREFIX = "w/<slug:slug>/"
PORTAL_PREFIX = "portal/<slug:slug>/"
API_PREFIX = "api/v1/"

# ---------------------------------------------------------------------------------------
# How to build each URL keyword argument
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kwarg:
    """How to build one URL keyword argument.

    ``build(tenant)`` returns a value for the workspace ``tenant`` (a tests.conftest.Tenant):
    for a tenant object it *creates the object in that workspace* and returns its id.
    ``tenant_object`` marks ids of a workspace's rows: those are the ones the rules swap for
    another workspace's. ``missing`` is a well-formed value that matches nothing.
    """

    build: Callable[[Any], Any]
    tenant_object: bool = False
    missing: Any = 2_000_000_000


def value(v: Any) -> Kwarg:
    return Kwarg(build=lambda tenant: v, missing=v)


def tenant_object(build: Callable[[Any], Any], missing: Any = 2_000_000_000) -> Kwarg:
    return Kwarg(build=build, tenant_object=True, missing=missing)


def _staff_invitation_token(tenant) -> str:
    token = f"isolation-token-{tenant.workspace.slug}"
    StaffInvitationFactory(workspace=tenant.workspace, token_hash=hash_token(token))
    return token


def _ledger_entry(tenant) -> int:
    from advocacy.scoping import workspace_scope
    from rewards.models import EntryKind
    from rewards.services import credit_points

    advocate = AdvocateFactory(workspace=tenant.workspace)
    with workspace_scope(tenant.workspace):
        return credit_points(advocate=advocate, amount=10, kind=EntryKind.EARN_BONUS, reason="isolation",
                             idempotency_key=f"isolation:{advocate.pk}").pk


def _badge(tenant) -> int:
    from rewards.models import Badge

    return Badge.objects.with_scopes_disabled().create(
        workspace=tenant.workspace, code=f"isolation-{Badge.objects.with_scopes_disabled().count()}", name="Isolation",
        rule={"fact": "asks_completed", "at_least": 1},
    ).pk


def _catalog_item(tenant) -> int:
    from rewards.models import CatalogItem, ItemKind

    return CatalogItem.objects.with_scopes_disabled().create(workspace=tenant.workspace, name="Isolation mug", kind=ItemKind.SWAG, cost=10).pk


def _redemption(tenant) -> int:
    from advocacy.scoping import workspace_scope
    from rewards.models import CatalogItem, EntryKind
    from rewards.redemptions import redeem
    from rewards.services import credit_points

    advocate = AdvocateFactory(workspace=tenant.workspace)
    with workspace_scope(tenant.workspace):
        credit_points(advocate=advocate, amount=10, kind=EntryKind.EARN_BONUS, reason="isolation", idempotency_key=f"isolation-r:{advocate.pk}")
        return redeem(advocate=advocate, item=CatalogItem.objects.get(pk=_catalog_item(tenant)), actor=None).pk


def _outbox_message(tenant) -> str:
    return str(OutboxMessage.objects.create(to=f"someone@{tenant.workspace.slug}.example", subject="Hello", body="Hi").pk)


def _portal_assignment(tenant) -> int:
    """An assignment of the tenant's signed-in advocate (the portal shows only their own)."""
    from tests.factories import AskFactory, AssignmentFactory, ProgramFactory

    ask = AskFactory(program=ProgramFactory(workspace=tenant.workspace))
    return AssignmentFactory(ask=ask, advocate=tenant.advocate).pk


def _portal_survey_send(tenant) -> int:
    """A survey send to the tenant's signed-in advocate (the portal shows only their own)."""
    from tests.factories import SurveyFactory, SurveySendFactory

    return SurveySendFactory(survey=SurveyFactory(workspace=tenant.workspace), advocate=tenant.advocate, channel="portal").pk


def _survey_token(tenant) -> str:
    from nps.tokens import make_token

    return make_token(_portal_survey_send(tenant))


def _advocate_invitation_token(tenant) -> str:
    from programs.models import Invitation

    token = f"isolation-invitation-{tenant.workspace.slug}-{Invitation.objects.with_scopes_disabled().count()}"
    Invitation.objects.with_scopes_disabled().create(
        workspace=tenant.workspace, advocate=AdvocateFactory(workspace=tenant.workspace, stage="invited"),
        inviter_name="Isolation", note="Join us", token_hash=hash_token(token),
    )
    return token


def _unsubscribe_token(tenant) -> str:
    from advocacy.unsubscribe import unsubscribe_token

    return unsubscribe_token(AdvocateFactory(workspace=tenant.workspace))


def _program(tenant) -> int:
    from tests.factories import ProgramFactory

    return ProgramFactory(workspace=tenant.workspace).pk


def _ask(tenant) -> int:
    from tests.factories import AskFactory, ProgramFactory

    return AskFactory(program=ProgramFactory(workspace=tenant.workspace)).pk


def _assignment(tenant, state: str = "submitted") -> int:
    from programs.models import Ask
    from tests.factories import AssignmentFactory

    return AssignmentFactory(ask=Ask.objects.with_scopes_disabled().get(pk=_ask(tenant)), state=state).pk


def _outcome(tenant) -> int:
    from programs.models import Assignment, Outcome, OutcomeKind

    assignment = Assignment.objects.with_scopes_disabled().get(pk=_assignment(tenant, state="approved"))
    return Outcome.objects.with_scopes_disabled().create(
        workspace=tenant.workspace, assignment=assignment, program_id=assignment.program_id, advocate_id=assignment.advocate_id,
        kind=OutcomeKind.REACH, reach=10,
    ).pk


def _invitation(tenant) -> int:
    from programs.models import Invitation

    return Invitation.objects.with_scopes_disabled().create(
        workspace=tenant.workspace, advocate=AdvocateFactory(workspace=tenant.workspace, stage="invited"), inviter_name="Isolation",
        note="Join us", token_hash=hash_token(f"isolation-api-{tenant.workspace.slug}-{Invitation.objects.with_scopes_disabled().count()}"),
    ).pk


def _task(tenant) -> int:
    from advocacy.models import Task, TaskKind

    return Task.objects.with_scopes_disabled().create(workspace=tenant.workspace, kind=TaskKind.CHECK_IN, title="Isolation").pk


def _assignment_with_proof(tenant) -> int:
    """A submitted assignment with a proof file (its download page answers 200)."""
    from django.core.files.base import ContentFile

    from programs.models import Assignment

    assignment = Assignment.objects.with_scopes_disabled().get(pk=_assignment(tenant))
    assignment.proof_file.save("isolation-proof.txt", ContentFile(b"proof"), save=True)
    return assignment.pk


def _referral(tenant) -> int:
    """A referral of the tenant (its advocate's code on a program of the workspace)."""
    from referrals.codes import new_code
    from referrals.models import Referral, ReferralCode
    from tests.factories import ProgramFactory

    program = ProgramFactory(workspace=tenant.workspace)
    advocate = AdvocateFactory(workspace=tenant.workspace)
    n = ReferralCode.objects.with_scopes_disabled().count()
    code = ReferralCode.objects.with_scopes_disabled().create(
        workspace=tenant.workspace, program=program, advocate=advocate, code=new_code())
    return Referral.objects.with_scopes_disabled().create(
        workspace=tenant.workspace, code=code, program=program, advocate=advocate, referee_email=f"referee{n}@example.com",
        flags=[{"rule": "self_referral", "reason": "isolation"}],
    ).pk


def _referral_code(tenant) -> str:
    """A live referral code of the tenant (its advocate, an active program with a landing URL)."""
    import secrets

    from referrals.models import CODE_ALPHABET, CODE_LENGTH, ReferralCode
    from tests.factories import ProgramFactory

    program = ProgramFactory(workspace=tenant.workspace, landing_url="https://landing.example/")
    return ReferralCode.objects.with_scopes_disabled().create(
        workspace=tenant.workspace, program=program, advocate=tenant.advocate,
        code="".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)),
    ).code


def _api_referral(tenant) -> int:
    """A lead through a code of the tenant (the API's referrals, conversions and lead endpoint)."""
    from advocacy.scoping import workspace_scope
    from referrals.services import create_referral

    code = _referral_code_of(tenant)
    with workspace_scope(tenant.workspace):
        return create_referral(code=code, referee_email=f"lead{code.pk}@prospect.example").pk


def _referral_code_of(tenant):
    from referrals.models import ReferralCode
    from tests.factories import ProgramFactory

    program = ProgramFactory(workspace=tenant.workspace, landing_url="https://landing.example/")
    n = ReferralCode.objects.with_scopes_disabled().count()
    return ReferralCode.objects.with_scopes_disabled().create(
        workspace=tenant.workspace, program=program, advocate=AdvocateFactory(workspace=tenant.workspace),
        code=f"ISO{tenant.workspace.pk:03d}{n:04d}"[:16],
    )


def _survey(tenant) -> int:
    from tests.factories import SurveyFactory

    return SurveyFactory(workspace=tenant.workspace).pk


def _survey_response(tenant) -> int:
    from tests.factories import SurveyFactory, SurveyResponseFactory, SurveySendFactory

    return SurveyResponseFactory(send=SurveySendFactory(survey=SurveyFactory(workspace=tenant.workspace))).pk


def _api_conversion(tenant) -> int:
    from advocacy.scoping import workspace_scope
    from referrals.services import record_conversion

    with workspace_scope(tenant.workspace):
        return record_conversion(workspace=tenant.workspace, external_id=f"isolation-{_api_referral(tenant)}",
                                 referee_email="buyer@prospect.example", value="10.00", currency="EUR").pk


def _program_cost(tenant) -> int:
    from tests.factories import ProgramCostFactory, ProgramFactory

    return ProgramCostFactory(program=ProgramFactory(workspace=tenant.workspace)).pk


def _daily_metric(tenant) -> int:
    from tests.factories import DailyMetricFactory

    return DailyMetricFactory(workspace=tenant.workspace).pk


# The workspace slug is not built: each rule chooses whose workspace the URL names.
SLUG = "slug"

# Keys are tried from the most specific: "<route name>:<kwarg>", "<area>:<kwarg>", "<kwarg>".
KWARGS: dict[str, Kwarg] = {
    # manager pages
    "advocate_id": tenant_object(lambda t: AdvocateFactory(workspace=t.workspace).pk),
    "import_id": tenant_object(lambda t: ImportJobFactory(workspace=t.workspace).pk),
    "membership_id": tenant_object(lambda t: MembershipFactory(workspace=t.workspace, role=Role.MANAGER).pk),
    "invitation_id": tenant_object(lambda t: StaffInvitationFactory(workspace=t.workspace).pk),
    "key_id": tenant_object(lambda t: create_api_key(workspace=t.workspace, name="isolation key").api_key.pk),
    "badge_id": tenant_object(_badge),
    "item_id": tenant_object(_catalog_item),
    "redemption_id": tenant_object(_redemption),
    "rewards_redemption_action:action": value("approve"),
    # programs, asks, assignments, invitations and tasks (programs/views/, advocacy/task_views.py)
    "manager:program_id": tenant_object(_program),
    "manager:ask_id": tenant_object(_ask),
    "ask_status:action": value("close"),
    "manager:assignment_id": tenant_object(_assignment),
    "assignment_proof:assignment_id": tenant_object(_assignment_with_proof),
    "assignment_action:action": value("approve"),
    "manager:outcome_id": tenant_object(_outcome),
    "invitation_resend:invitation_id": tenant_object(_invitation),
    "manager:task_id": tenant_object(_task),
    # referrals (referrals/urls.py)
    "manager:referral_id": tenant_object(_referral),
    "referral_action:action": value("approve"),
    # NPS (nps/urls.py)
    "manager:survey_id": tenant_object(_survey),
    "nps_survey_action:action": value("pause"),
    # insights (insights/urls.py)
    "manager:cost_id": tenant_object(_program_cost),
    # portal
    "portal_stage:action": value("pause"),
    "portal:assignment_id": tenant_object(_portal_assignment),
    "portal:send_id": tenant_object(_portal_survey_send),
    # API (router format suffixes: /api/v1/advocates.json)
    "api:format": value("json"),
    # public pages
    "staff_invitation:token": tenant_object(_staff_invitation_token, missing="no-such-token"),
    "invitation:token": tenant_object(_advocate_invitation_token, missing="no-such-token"),
    "unsubscribe:token": tenant_object(_unsubscribe_token, missing="no-such-token"),
    "referral_lead:code": tenant_object(lambda t: _referral_code_of(t).code, missing="ZZZZZZZZZZ"),
    "referral_redirect:code": tenant_object(_referral_code, missing="ZZZZZZZZZZ"),
    "referral_redirect_slash:code": tenant_object(_referral_code, missing="ZZZZZZZZZZ"),
    "nps_answer:token": tenant_object(_survey_token, missing="no-such-token"),
    "nps_answer_slash:token": tenant_object(_survey_token, missing="no-such-token"),
    "outbox_message:message_id": Kwarg(build=_outbox_message, missing="00000000-0000-0000-0000-000000000000"),
    # allauth (third-party; its keys are signed or random)
    "accounts:key": value("no-such-key"),
    "accounts:uidb36": value("0"),
    # the operator's admin (staff only; these values never reach a model lookup)
    "admin:object_id": value("1"),
    "admin:content_type_id": value("1"),
    "admin:id": value("1"),
    "admin:app_label": value("advocacy"),
    "admin:url": value("no-such-page/"),
}

# Primary keys of the API's resources, by router basename: create one in the tenant.
API_OBJECTS: dict[str, Callable[[Any], int]] = {
    "advocate": lambda t: AdvocateFactory(workspace=t.workspace).pk,
    "event": lambda t: ActivityEventFactory(advocate=AdvocateFactory(workspace=t.workspace)).pk,
    "ledger": _ledger_entry,
    "catalog-item": _catalog_item,
    "redemption": _redemption,
    "program": _program,
    "ask": _ask,
    "assignment": _assignment,
    "outcome": _outcome,
    "invitation": _invitation,
    "task": _task,
    "referral": _api_referral,
    "conversion": _api_conversion,
    "nps-survey": _survey,
    "nps-response": _survey_response,
    "program-cost": _program_cost,
    "metrics": _daily_metric,  # a report, not rows: its isolation is in tests/insights/test_metrics_api.py
}

# Routes outside /w/, /portal/ and /api/v1/ that are not the admin's or allauth's, each
# with why it is not a workspace's page. Keyed by route name (or pattern when unnamed).
PUBLIC_ROUTES: dict[str, str] = {
    "": "redirects to /w/",
    "workspace_index": "lists the signed-in user's own memberships",
    "workspace_new": "creates a new workspace owned by the signed-in user",
    "api_schema": "the OpenAPI document: no data",
    "api_docs": "Swagger UI: no data",
    "^api/": "JSON 404 for unknown API paths",
    "staff_invitation": "the token is the credential; it names one invitation",
    "invitation": "an advocate's invitation link: the token is the credential; it names one invitation",
    "unsubscribe": "one-click unsubscribe: the signed token names one advocate",
    "referral_lead": "a landing page's lead form (POST only): the code names one program; answers no one's data",
    "referral_redirect": "a referral link /r/<code>: the code names one program's landing URL, no one's data",
    "referral_redirect_slash": "the same referral link with a trailing slash",
    "outbox": "the demo's mailbox (only with the outbox mail backend)",
    "outbox_message": "one mail of the demo's mailbox",
    "healthz": "liveness probe",
    "nps_answer": "an NPS survey link /s/<token>: the signed token names one send; GET records nothing",
    "nps_answer_slash": "the same survey link with a trailing slash",
}

# ---------------------------------------------------------------------------------------
# Walking the resolver
# ---------------------------------------------------------------------------------------

_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")


@dataclass(frozen=True)
class Route:
    pieces: tuple[Any, ...]  # the pattern objects from the root to the leaf
    name: str | None
    namespace: str | None
    callback: Any
    kwargs: tuple[str, ...] = field(default=())

    @property
    def pattern(self) -> str:
        return "".join(str(p) for p in self.pieces)

    @property
    def label(self) -> str:
        return self.name or self.pattern

    @property
    def qualified_name(self) -> str | None:
        return f"{self.namespace}:{self.name}" if self.namespace and self.name else self.name

    @property
    def view_class(self) -> type | None:
        return getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None)

    @property
    def area(self) -> str:
        pattern = self.pattern
        if pattern.startswith(MANAGER_PREFIX):
            return "manager"
        if pattern.startswith(PORTAL_PREFIX):
            return "portal"
        if pattern.startswith(API_PREFIX):
            return "api"
        if self.namespace == "admin":
            return "admin"
        if getattr(self.callback, "__module__", "").startswith("allauth."):
            return "accounts"
        return "public"

    def handles(self, method: str) -> bool:
        """Whether the view has a handler for ``method`` (otherwise Django answers 405)."""
        cls = self.view_class
        if cls is None:
            return True
        actions = getattr(self.callback, "actions", None)
        if actions is not None:  # a DRF viewset bound to {method: action}
            return method.lower() in actions
        return hasattr(cls, method.lower()) and method.lower() in cls.http_method_names

    def __str__(self) -> str:
        return f"{self.label} (/{self.pattern})"


def _piece_kwargs(piece) -> list[str]:
    if isinstance(piece, RoutePattern):
        return [m.group("parameter") for m in _ROUTE_PARAM.finditer(str(piece))]
    if isinstance(piece, RegexPattern):
        return list(piece.regex.groupindex)
    return []


def walk(patterns, pieces: tuple = (), namespace: str | None = None) -> list[Route]:
    routes = []
    for p in patterns:
        if isinstance(p, URLResolver):
            routes += walk(p.url_patterns, (*pieces, p.pattern), p.namespace or namespace)
        elif isinstance(p, URLPattern):
            all_pieces = (*pieces, p.pattern)
            kwargs = tuple(k for piece in all_pieces for k in _piece_kwargs(piece))
            routes.append(Route(pieces=all_pieces, name=p.name, namespace=namespace, callback=p.callback, kwargs=kwargs))
    return routes


def all_routes() -> list[Route]:
    return walk(get_resolver().url_patterns)


def routes_in(area: str) -> list[Route]:
    return [r for r in all_routes() if r.area == area]


# ---------------------------------------------------------------------------------------
# Building URLs
# ---------------------------------------------------------------------------------------


class Unregistered(LookupError):
    pass


def spec_for(route: Route, kwarg: str) -> Kwarg:
    for key in (f"{route.name}:{kwarg}", f"{route.area}:{kwarg}", kwarg):
        if key in KWARGS:
            return KWARGS[key]
    raise Unregistered(
        f"register how to build {kwarg!r} for {route.label} (/{route.pattern}) in {REGISTRY_FILE} "
        f"(KWARGS[{kwarg!r}] or KWARGS['{route.name or route.area}:{kwarg}']; an object id is built "
        "by a factory that creates the object in the given workspace)"
    )


def missing_kwargs(route: Route) -> list[str]:
    problems = []
    for kwarg in route.kwargs:
        if kwarg == SLUG and route.area in ("manager", "portal"):
            continue
        if route.area == "api" and kwarg == "pk":
            continue  # built per viewset from API_OBJECTS
        try:
            spec_for(route, kwarg)
        except Unregistered as exc:
            problems.append(str(exc))
    return problems


def takes_object_ids(route: Route) -> bool:
    """Whether the route has a keyword argument that is the id of a workspace's row (an
    unregistered one counts, so that its test runs and fails asking for a builder)."""
    for kwarg in route.kwargs:
        if kwarg == SLUG:
            continue
        try:
            if spec_for(route, kwarg).tenant_object:
                return True
        except Unregistered:
            return True
    return False


def build_kwargs(route: Route, *, slug: str | None = None, objects_of=None, values_of=None, missing: bool = False) -> dict[str, Any]:
    """Values for every keyword argument of ``route``.

    ``slug`` names the workspace in the URL; tenant objects are created in ``objects_of``;
    other values come from ``values_of`` (defaults to ``objects_of``). With ``missing``,
    tenant objects get an id that matches no row.
    """
    import pytest

    values_of = values_of if values_of is not None else objects_of
    built: dict[str, Any] = {}
    for kwarg in route.kwargs:
        if kwarg == SLUG and route.area in ("manager", "portal"):
            built[kwarg] = slug
            continue
        try:
            spec = spec_for(route, kwarg)
        except Unregistered as exc:
            pytest.fail(str(exc), pytrace=False)
        if spec.tenant_object:
            built[kwarg] = spec.missing if missing else spec.build(objects_of)
        else:
            built[kwarg] = spec.build(values_of)
    return built


def path_for(route: Route, kwargs: dict[str, Any]) -> str:
    """The concrete path of ``route`` with ``kwargs``, checked by resolving it back."""
    import pytest

    parts = []
    for piece in route.pieces:
        text = str(piece)
        if isinstance(piece, RoutePattern):
            text = _ROUTE_PARAM.sub(lambda m: str(kwargs[m.group("parameter")]), text)
        else:
            text = text.removeprefix("^").removesuffix("$").removesuffix("\\Z")
            text = _REGEX_GROUP.sub(lambda m: str(kwargs[m.group("name")]), text)
            text = text.replace("/?", "/").replace("\\.", ".").replace("\\-", "-")
        parts.append(text)
    path = "/" + "".join(parts)
    if re.search(r"[\\()\[\]{}*+?|^$]", path):
        pytest.fail(f"cannot turn /{route.pattern} into a path (got {path!r}); extend path_for in {REGISTRY_FILE}", pytrace=False)
    match = resolve(path)
    if match.func is not route.callback:
        pytest.fail(f"{path} resolves to {match.view_name or match.route}, not to {route}", pytrace=False)
    return path


def param_id(route: Route) -> str:
    return route.qualified_name or route.pattern or "root"
