from django.apps import AppConfig


class NpsConfig(AppConfig):
    name = "nps"
    verbose_name = "NPS surveys"

    def ready(self) -> None:
        from advocacy.signals import advocate_erased

        from .services import forget_comments

        def erase_comments(sender, advocate, **kwargs) -> None:
            forget_comments(advocate=advocate)

        advocate_erased.connect(erase_comments, dispatch_uid="nps.erase_comments", weak=False)
