"""Routes of the NPS app: ``manager`` at /w/<slug>/nps/, ``portal`` at /portal/<slug>/nps/,
``public`` (the /s/<token> answer page) at the site root; the API in advocacy/api/urls.py."""

from django.urls import path

from . import portal as nps_portal
from . import public as nps_public
from . import views as nps_views

manager: list = [
    path("", nps_views.OverviewView.as_view(), name="nps_overview"),
    path("responses/", nps_views.ResponseListView.as_view(), name="nps_responses"),
    path("responses.csv", nps_views.ResponseExportView.as_view(), name="nps_response_export"),
    path("breakdown.csv", nps_views.BreakdownExportView.as_view(), name="nps_breakdown_export"),
    path("surveys/new/", nps_views.SurveyFormView.as_view(), name="nps_survey_new"),
    path("surveys/<int:survey_id>/", nps_views.SurveyDetailView.as_view(), name="nps_survey"),
    path("surveys/<int:survey_id>/edit/", nps_views.SurveyFormView.as_view(), name="nps_survey_edit"),
    path("surveys/<int:survey_id>/responses.csv", nps_views.SurveyResponseExportView.as_view(), name="nps_survey_response_export"),
    path("surveys/<int:survey_id>/breakdown.csv", nps_views.SurveyBreakdownExportView.as_view(), name="nps_survey_breakdown_export"),
    path("surveys/<int:survey_id>/<str:action>/", nps_views.SurveyActionView.as_view(), name="nps_survey_action"),
]
portal: list = [*nps_portal.urls]
public: list = [*nps_public.urls]
