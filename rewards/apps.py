from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = "Rewards and the ledger"

    def ready(self) -> None:
        from . import badge_tasks  # noqa: F401 - registers the badge tasks with Celery
