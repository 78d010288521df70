"""Routes of the rewards app. ``manager`` is mounted at /w/<slug>/rewards/, ``portal`` at
/portal/<slug>/rewards/; API resources are registered in advocacy/api/urls.py."""

from django.urls import path

from . import badge_views
from . import portal as rewards_portal

manager: list = []
portal: list = []

# Badges and leaderboards (rewards/badge_views.py, rewards/portal.py).

manager += [
    path("badges/", badge_views.BadgeListView.as_view(), name="badge_list"),
    path("badges/new/", badge_views.BadgeFormView.as_view(), name="badge_create"),
    path("badges/defaults/", badge_views.BadgeDefaultsView.as_view(), name="badge_defaults"),
    path("badges/<int:badge_id>/", badge_views.BadgeAwardsView.as_view(), name="badge_awards"),
    path("badges/<int:badge_id>/edit/", badge_views.BadgeFormView.as_view(), name="badge_edit"),
    path("leaderboards/", badge_views.LeaderboardView.as_view(), name="leaderboard"),
]
portal += [
    path("", rewards_portal.PortalRewardsView.as_view(), name="portal_rewards"),
]

# The ledger and reward settings (rewards/ledger_views.py).
from . import ledger_views  # noqa: E402

manager += [
    path("ledger/", ledger_views.LedgerListView.as_view(), name="rewards_ledger"),
    path("ledger/export.csv", ledger_views.LedgerExportView.as_view(), name="rewards_ledger_export"),
    path("advocates/<int:advocate_id>/ledger/", ledger_views.AdvocateLedgerView.as_view(), name="rewards_advocate_ledger"),
    path("settings/", ledger_views.RewardSettingsView.as_view(), name="rewards_settings"),
]

# The catalog and redemptions (rewards/catalog_views.py, rewards/catalog_portal.py).
from . import catalog_portal, catalog_views  # noqa: E402

manager += [
    path("catalog/", catalog_views.CatalogListView.as_view(), name="rewards_catalog"),
    path("catalog/new/", catalog_views.CatalogItemFormView.as_view(), name="rewards_catalog_create"),
    path("catalog/<int:item_id>/edit/", catalog_views.CatalogItemFormView.as_view(), name="rewards_catalog_edit"),
    path("redemptions/", catalog_views.RedemptionListView.as_view(), name="rewards_redemptions"),
    path("redemptions/<int:redemption_id>/", catalog_views.RedemptionDetailView.as_view(), name="rewards_redemption"),
    path("redemptions/<int:redemption_id>/<str:action>/", catalog_views.RedemptionActionView.as_view(), name="rewards_redemption_action"),
    path("donations/", catalog_views.CharityTotalsView.as_view(), name="rewards_donations"),
]
portal += [
    path("catalog/", catalog_portal.PortalCatalogView.as_view(), name="portal_catalog"),
    path("catalog/<int:item_id>/redeem/", catalog_portal.PortalRedeemView.as_view(), name="portal_redeem"),
    path("redemptions/", catalog_portal.PortalRedemptionsView.as_view(), name="portal_redemptions"),
]
