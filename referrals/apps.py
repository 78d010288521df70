from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals"

    def ready(self) -> None:
        # /r/ caches each code's target: forget it when its advocate or program changes.
        from advocacy.signals import advocate_stage_changed
        from programs.signals import program_changed

        from .redirect import forget_advocate_codes, forget_program_codes

        def advocate_changed(sender, advocate, **kwargs):
            forget_advocate_codes(advocate)

        def program_changed_(sender, program, changed, **kwargs):
            if {"status", "landing_url"} & set(changed):
                forget_program_codes(program)

        advocate_stage_changed.connect(advocate_changed, dispatch_uid="referrals.forget_advocate_codes", weak=False)
        program_changed.connect(program_changed_, dispatch_uid="referrals.forget_program_codes", weak=False)
