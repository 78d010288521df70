from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "programs"
    verbose_name = "Programs, asks and assignments"

    def ready(self) -> None:
        from . import tasks  # noqa: F401 - registers rotation, fatigue, expiry and reminder tasks with Celery
