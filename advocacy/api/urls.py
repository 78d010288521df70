"""/api/v1/: one router; each app registers its resources here as it lands."""

from rest_framework.routers import DefaultRouter

from .views import AdvocateViewSet, EventViewSet


class Router(DefaultRouter):
    include_root_view = False
    trailing_slash = "/?"


router = Router()
router.register("advocates", AdvocateViewSet, basename="advocate")
router.register("events", EventViewSet, basename="event")

urlpatterns = router.urls
