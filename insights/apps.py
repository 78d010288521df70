from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """The top floor: advocacy scores, daily metric rollups, ROI and the dashboard. It reads
    every app; nothing imports it."""

    name = "insights"
    verbose_name = "Insights"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (score updates after the events that change it)
