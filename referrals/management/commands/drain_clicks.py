from django.core.management.base import BaseCommand, CommandError

from referrals.clicks import buffer_url, drain_clicks, pending_clicks


class Command(BaseCommand):
    help = ("Write the clicks of /r/<code> buffered in Redis to the database, in batches, as the drain job does "
            "every 10 seconds (entries a killed worker left unacknowledged are taken over first). Safe to rerun.")

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=1000, help="Clicks per batch (one transaction each).")
        parser.add_argument("--max-batches", type=int, default=100_000, help="Stop after this many batches.")

    def handle(self, *args, batch=1000, max_batches=100_000, **options):
        if batch < 1 or max_batches < 1:
            raise CommandError("--batch and --max-batches must be at least 1.")
        if not buffer_url():
            self.stdout.write("No click buffer (REDIS_URL is not set): clicks are written as they happen.")
            return
        written = drain_clicks(batch=batch, max_batches=max_batches)
        self.stdout.write(self.style.SUCCESS(
            f"{written} new {'click' if written == 1 else 'clicks'} written; {pending_clicks()} left in the buffer."))
