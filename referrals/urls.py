"""Routes of the referrals app's pages. ``manager`` is mounted at /w/<slug>/referrals/,
``portal`` at /portal/<slug>/referrals/; the public /r/<code> link and the API are wired
in advocacy/urls.py and advocacy/api/urls.py."""

from django.urls import path

from . import portal as referrals_portal
from . import views

manager: list = [
    path("", views.PipelineView.as_view(), name="referral_pipeline"),
    path("export.csv", views.PipelineExportView.as_view(), name="referral_export"),
    path("<int:referral_id>/", views.ReferralDetailView.as_view(), name="referral_detail"),
    path("<int:referral_id>/<str:action>/", views.ReferralActionView.as_view(), name="referral_action"),
    path("programs/", views.ProgramSettingsListView.as_view(), name="referral_programs"),
    path("programs/<int:program_id>/", views.ProgramSettingsView.as_view(), name="referral_program_settings"),
    path("programs/<int:program_id>/coupons/", views.CouponUploadView.as_view(), name="referral_coupons"),
]

portal: list = [
    path("", referrals_portal.PortalReferralsView.as_view(), name="portal_referrals"),
]
