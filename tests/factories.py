"""Factories for every model of the core. Tenant models are created with scopes disabled."""

from __future__ import annotations

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from advocacy.models import (
    ActivityEvent,
    Advocate,
    EventKind,
    ImportJob,
    Membership,
    Role,
    StaffInvitation,
    Stage,
    Tag,
    User,
    Workspace,
    hash_token,
)

PASSWORD = "correct-horse-battery-staple"


class ScopedFactory(DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _get_manager(cls, model_class):
        manager = super()._get_manager(model_class)
        return manager.with_scopes_disabled() if hasattr(manager, "with_scopes_disabled") else manager


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = "Test"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        if create:
            obj.save()
            from allauth.account.models import EmailAddress

            EmailAddress.objects.get_or_create(user=obj, email=obj.email, defaults={"verified": True, "primary": True})


class WorkspaceFactory(DjangoModelFactory):
    class Meta:
        model = Workspace

    slug = factory.Sequence(lambda n: f"ws{n}")
    name = factory.Sequence(lambda n: f"Workspace {n}")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MANAGER


class TagFactory(ScopedFactory):
    class Meta:
        model = Tag

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"tag{n}")


class AdvocateFactory(ScopedFactory):
    class Meta:
        model = Advocate
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Advocate {n}")
    email = factory.Sequence(lambda n: f"advocate{n}@customer.example")
    company = "Customer Inc"
    stage = Stage.ACTIVE
    external_id = None

    @factory.post_generation
    def tags(obj, create, extracted, **kwargs):
        if create and extracted:
            from advocacy.scoping import workspace_scope
            from advocacy.services.advocates import set_tags

            with workspace_scope(obj.workspace):
                set_tags(workspace=obj.workspace, advocates=[obj], names=extracted, mode="add", actor=None)


class ActivityEventFactory(ScopedFactory):
    class Meta:
        model = ActivityEvent

    advocate = factory.SubFactory(AdvocateFactory)
    workspace = factory.SelfAttribute("advocate.workspace")
    kind = EventKind.EMAIL_OPEN
    occurred_at = factory.LazyFunction(timezone.now)


class ImportJobFactory(ScopedFactory):
    class Meta:
        model = ImportJob

    workspace = factory.SubFactory(WorkspaceFactory)
    filename = "people.csv"
    content = "email,name\nimported@example.com,Imported Person\n"
    total_rows = 1
    valid_rows = 1


class StaffInvitationFactory(DjangoModelFactory):
    class Meta:
        model = StaffInvitation

    workspace = factory.SubFactory(WorkspaceFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.MANAGER
    token_hash = factory.Sequence(lambda n: hash_token(f"token-{n}"))


# --- Programs ------------------------------------------------------------------------------

from datetime import timedelta  # noqa: E402

from programs.models import Ask, AskKind, Assignment, AssignmentState, Effort, Program  # noqa: E402


class ProgramFactory(ScopedFactory):
    class Meta:
        model = Program

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Program {n}")


class AskFactory(ScopedFactory):
    class Meta:
        model = Ask

    program = factory.SubFactory(ProgramFactory)
    workspace = factory.SelfAttribute("program.workspace")
    kind = AskKind.REVIEW
    title = factory.Sequence(lambda n: f"Ask {n}")
    effort = Effort.SMALL
    points = 50
    capacity = 1


class AssignmentFactory(ScopedFactory):
    """An offer made now (``offered_at``/``offer_expires_at`` follow it); set ``state``
    and the timestamps a test needs."""

    class Meta:
        model = Assignment

    ask = factory.SubFactory(AskFactory)
    workspace = factory.SelfAttribute("ask.workspace")
    program = factory.SelfAttribute("ask.program")
    advocate = factory.SubFactory(AdvocateFactory, workspace=factory.SelfAttribute("..workspace"))
    state = AssignmentState.OFFERED
    offered_at = factory.LazyFunction(timezone.now)
    offer_expires_at = factory.LazyAttribute(lambda o: o.offered_at + timedelta(days=7))


from nps.models import Survey, SurveyResponse, SurveySend, category_of  # noqa: E402


class SurveyFactory(ScopedFactory):
    class Meta:
        model = Survey

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Survey {n}")


class SurveySendFactory(ScopedFactory):
    """A send of round 1 now, by email."""

    class Meta:
        model = SurveySend

    survey = factory.SubFactory(SurveyFactory)
    workspace = factory.SelfAttribute("survey.workspace")
    advocate = factory.SubFactory(AdvocateFactory, workspace=factory.SelfAttribute("..workspace"))
    round = 1
    channel = "email"
    sent_at = factory.LazyFunction(timezone.now)


class SurveyResponseFactory(ScopedFactory):
    """An answer to a send (its category follows the score; type and stage are the person's)."""

    class Meta:
        model = SurveyResponse

    send = factory.SubFactory(SurveySendFactory)
    workspace = factory.SelfAttribute("send.workspace")
    survey = factory.SelfAttribute("send.survey")
    advocate = factory.SelfAttribute("send.advocate")
    score = 9
    category = factory.LazyAttribute(lambda o: category_of(o.score))
    channel = "email"
    advocate_type = factory.LazyAttribute(lambda o: o.advocate.type)
    advocate_stage = factory.LazyAttribute(lambda o: o.advocate.stage)
    answered_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyAttribute(lambda o: o.answered_at)


# --- Insights (dashboard) ------------------------------------------------------------------

from insights.models import AdvocateDay, CostCategory, DailyMetric, ProgramCost  # noqa: E402


class DailyMetricFactory(ScopedFactory):
    """A workspace row (``program`` empty) of today; pass ``program=`` for a program's row."""

    class Meta:
        model = DailyMetric

    workspace = factory.SubFactory(WorkspaceFactory)
    program = None
    day = factory.LazyFunction(timezone.localdate)


class AdvocateDayFactory(ScopedFactory):
    class Meta:
        model = AdvocateDay

    advocate = factory.SubFactory(AdvocateFactory)
    workspace = factory.SelfAttribute("advocate.workspace")
    day = factory.LazyFunction(timezone.localdate)
    actions = 1


class ProgramCostFactory(ScopedFactory):
    class Meta:
        model = ProgramCost

    program = factory.SubFactory(ProgramFactory)
    workspace = factory.SelfAttribute("program.workspace")
    category = CostCategory.SOFTWARE
    amount = 100
    incurred_on = factory.LazyFunction(timezone.localdate)
