from django.core.management.base import BaseCommand

from rewards.badges import award_tenure_badges


class Command(BaseCommand):
    help = "Award tenure badges (days in the program) to the advocates who reached them. Idempotent; runs daily."

    def handle(self, *args, **options):
        awarded = award_tenure_badges()
        self.stdout.write(self.style.SUCCESS(f"Awarded {awarded} tenure badge{'s' if awarded != 1 else ''}."))
