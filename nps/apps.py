from django.apps import AppConfig


def _erase_comments(sender, advocate, **kwargs) -> None:
    from .services import forget_comments

    forget_comments(advocate=advocate)


class NpsConfig(AppConfig):
    name = "nps"
    verbose_name = "NPS surveys"

    def ready(self) -> None:
        from advocacy.signals import advocate_erased

        advocate_erased.connect(_erase_comments, dispatch_uid="nps.erase_comments")
