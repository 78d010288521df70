"""/api/v1/: one router; each app registers its resources here as it lands."""

from rest_framework.routers import DefaultRouter

from insights.api import MetricsViewSet, ProgramCostViewSet
from nps.api import ResponseViewSet as NpsResponseViewSet
from nps.api import SurveyViewSet as NpsSurveyViewSet
from programs.api import (
    AskViewSet,
    AssignmentViewSet,
    InvitationViewSet,
    OutcomeViewSet,
    ProgramViewSet,
)
from referrals.api import ConversionViewSet, ReferralViewSet
from rewards.api import CatalogViewSet, RedemptionViewSet
from rewards.ledger_api import LedgerViewSet

from .tasks import TaskViewSet
from .views import AdvocateViewSet, EventViewSet


class Router(DefaultRouter):
    """Trailing slash optional: /api/v1/advocates/5 and /api/v1/advocates/5/ both answer."""

    include_root_view = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"  # SimpleRouter.__init__ overwrites a class attribute


router = Router()
router.register("advocates", AdvocateViewSet, basename="advocate")
router.register("events", EventViewSet, basename="event")
router.register("ledger", LedgerViewSet, basename="ledger")
router.register("rewards/catalog", CatalogViewSet, basename="catalog-item")
router.register("rewards/redemptions", RedemptionViewSet, basename="redemption")
router.register("programs", ProgramViewSet, basename="program")
router.register("asks", AskViewSet, basename="ask")
router.register("assignments", AssignmentViewSet, basename="assignment")
router.register("outcomes", OutcomeViewSet, basename="outcome")
router.register("invitations", InvitationViewSet, basename="invitation")
router.register("tasks", TaskViewSet, basename="task")
router.register("referrals", ReferralViewSet, basename="referral")
router.register("conversions", ConversionViewSet, basename="conversion")
router.register("nps/surveys", NpsSurveyViewSet, basename="nps-survey")
router.register("nps/responses", NpsResponseViewSet, basename="nps-response")
router.register("metrics", MetricsViewSet, basename="metrics")
router.register("program-costs", ProgramCostViewSet, basename="program-cost")

urlpatterns = router.urls
