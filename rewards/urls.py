"""Routes of the rewards app. ``manager`` is mounted at /w/<slug>/rewards/, ``portal`` at
/portal/<slug>/rewards/; API resources are registered in advocacy/api/urls.py."""

from django.urls import path

manager: list = []
portal: list = []

# The ledger and reward settings (rewards/ledger_views.py).
from . import ledger_views  # noqa: E402

manager += [
    path("ledger/", ledger_views.LedgerListView.as_view(), name="rewards_ledger"),
    path("ledger/export.csv", ledger_views.LedgerExportView.as_view(), name="rewards_ledger_export"),
    path("advocates/<int:advocate_id>/ledger/", ledger_views.AdvocateLedgerView.as_view(), name="rewards_advocate_ledger"),
    path("settings/", ledger_views.RewardSettingsView.as_view(), name="rewards_settings"),
]
