"""Every front door: manager pages (/w/), the portal (/portal/), the API (/api/),
public links, accounts (allauth) and the operator's admin."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from insights import urls as insights_urls
from nps import urls as nps_urls
from programs import urls as programs_urls
from referrals import urls as referrals_urls
from referrals.leads import lead as referral_lead
from referrals.public import referral_redirect
from rewards import urls as rewards_urls

from . import portal, public, task_views, views
from .api.errors import api_not_found

manager = [
    path("", views.HomeView.as_view(), name="manager_home"),
    path("advocates/", views.AdvocateListView.as_view(), name="advocate_list"),
    path("advocates/new/", views.AdvocateCreateView.as_view(), name="advocate_create"),
    path("advocates/export.csv", views.AdvocateExportView.as_view(), name="advocate_export"),
    path("advocates/bulk-tag/", views.BulkTagView.as_view(), name="advocate_bulk_tag"),
    path("advocates/import/", views.ImportView.as_view(), name="advocate_import"),
    path("advocates/import/<int:import_id>/", views.ImportDetailView.as_view(), name="import_detail"),
    path("advocates/import/<int:import_id>/confirm/", views.ImportConfirmView.as_view(), name="import_confirm"),
    path("advocates/import/<int:import_id>/cancel/", views.ImportCancelView.as_view(), name="import_cancel"),
    path("advocates/import/<int:import_id>/progress.json", views.ImportProgressView.as_view(), name="import_progress"),
    path("advocates/<int:advocate_id>/", views.AdvocateDetailView.as_view(), name="advocate_detail"),
    path("advocates/<int:advocate_id>/edit/", views.AdvocateEditView.as_view(), name="advocate_edit"),
    path("advocates/<int:advocate_id>/stage/", views.AdvocateStageView.as_view(), name="advocate_stage"),
    path("advocates/<int:advocate_id>/export.json", views.AdvocateDataExportView.as_view(), name="advocate_data_export"),
    path("advocates/<int:advocate_id>/erase/", views.AdvocateEraseView.as_view(), name="advocate_erase"),
    path("settings/", views.SettingsView.as_view(), name="workspace_settings"),
    path("team/", views.TeamView.as_view(), name="team"),
    path("team/<int:membership_id>/role/", views.MemberRoleView.as_view(), name="member_role"),
    path("team/<int:membership_id>/remove/", views.MemberRemoveView.as_view(), name="member_remove"),
    path("team/invitations/<int:invitation_id>/revoke/", views.InvitationRevokeView.as_view(), name="invitation_revoke"),
    path("api-keys/", views.ApiKeysView.as_view(), name="api_keys"),
    path("api-keys/<int:key_id>/revoke/", views.ApiKeyRevokeView.as_view(), name="api_key_revoke"),
    path("audit/", views.AuditLogView.as_view(), name="audit_log"),
    *task_views.urls,
]

member_portal = [
    path("", portal.PortalHomeView.as_view(), name="portal_home"),
    path("login/", portal.PortalLoginView.as_view(), name="portal_login"),
    path("profile/", portal.PortalProfileView.as_view(), name="portal_profile"),
    path("preferences/", portal.PortalPreferencesView.as_view(), name="portal_preferences"),
    re_path(r"^preferences/(?P<action>pause|resume|leave)/$", portal.PortalStageView.as_view(), name="portal_stage"),
    path("my-data.json", portal.PortalDataExportView.as_view(), name="portal_data_export"),
    path("erase/", portal.PortalEraseView.as_view(), name="portal_erase"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="workspace_index", permanent=False)),
    # The hottest path: first, so resolving it tries no other pattern (referrals/public.py).
    path("r/<str:code>", referral_redirect, name="referral_redirect"),
    path("r/<str:code>/", referral_redirect, name="referral_redirect_slash"),
    path("w/", views.WorkspaceIndexView.as_view(), name="workspace_index"),
    path("w/new/", views.NewWorkspaceView.as_view(), name="workspace_new"),
    path("w/<slug:slug>/", include(manager)),
    path("w/<slug:slug>/", include(programs_urls.manager)),
    path("w/<slug:slug>/rewards/", include(rewards_urls.manager)),
    path("w/<slug:slug>/referrals/", include(referrals_urls.manager)),
    path("w/<slug:slug>/nps/", include(nps_urls.manager)),
    path("w/<slug:slug>/insights/", include(insights_urls.manager)),
    path("portal/<slug:slug>/", include(member_portal)),
    path("portal/<slug:slug>/", include(programs_urls.portal)),
    path("portal/<slug:slug>/rewards/", include(rewards_urls.portal)),
    path("portal/<slug:slug>/referrals/", include(referrals_urls.portal)),
    path("portal/<slug:slug>/nps/", include(nps_urls.portal)),
    path("", include(programs_urls.public)),
    path("", include(nps_urls.public)),
    path("api/v1/", include("advocacy.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    re_path(r"^api/", api_not_found),
    path("invitations/staff/<str:token>/", public.StaffInvitationView.as_view(), name="staff_invitation"),
    path("u/<str:token>/", public.UnsubscribeView.as_view(), name="unsubscribe"),
    path("r/<str:code>/lead", referral_lead, name="referral_lead"),  # the landing page's form (referrals/leads.py)
    path("_mail/", public.OutboxView.as_view(), name="outbox"),
    path("_mail/<uuid:message_id>/", public.OutboxView.as_view(), name="outbox_message"),
    path("healthz", public.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "advocacy.errorpages.not_found"
handler500 = "advocacy.errorpages.server_error"
handler403 = "advocacy.errorpages.forbidden"
handler400 = "advocacy.errorpages.bad_request"
