"""Routes of the insights pages, mounted at /w/<slug>/insights/; the metrics API is in
advocacy/api/urls.py."""

from django.urls import path

from . import candidates as score_views
from . import views as dashboard_views

manager: list = [
    # the advocacy score (helper "scores": insights/candidates.py)
    path("candidates/", score_views.CandidatesView.as_view(), name="insights_candidates"),
    path("candidates/export.csv", score_views.CandidatesExportView.as_view(), name="insights_candidates_export"),
    path("candidates/invite/", score_views.CandidateInviteView.as_view(), name="insights_candidates_invite"),
    path("score/", score_views.ScoreSettingsView.as_view(), name="insights_score"),
    # the dashboard (helper "dashboard": insights/views.py)
    path("", dashboard_views.DashboardView.as_view(), name="insights_dashboard"),
    path("programs/<int:program_id>/", dashboard_views.DashboardView.as_view(), name="insights_program"),
    path("refresh/", dashboard_views.RefreshView.as_view(), name="insights_refresh"),
    path("costs/", dashboard_views.CostListView.as_view(), name="insights_costs"),
    path("costs/new/", dashboard_views.CostCreateView.as_view(), name="insights_cost_create"),
    path("costs/<int:cost_id>/", dashboard_views.CostEditView.as_view(), name="insights_cost_edit"),
    path("costs/<int:cost_id>/delete/", dashboard_views.CostDeleteView.as_view(), name="insights_cost_delete"),
]
