from django.core.management.base import BaseCommand, CommandError

from advocacy.errors import DomainError
from advocacy.services.workspaces import create_workspace, get_or_create_user


class Command(BaseCommand):
    help = "Create a workspace, and its owner account when --owner is given."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--owner", help="Email of the owner; the account is created if new.")
        parser.add_argument("--password", help="Password for a new owner account (otherwise they reset it by email).")

    def handle(self, *args, slug, name, owner, password, **options):
        user = None
        if owner:
            user, created = get_or_create_user(owner, password=password)
            if created:
                self.stdout.write(f"Created the account {user.email}")
        try:
            workspace = create_workspace(slug=slug, name=name, owner=user)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"Created workspace {workspace.slug} ({workspace.name})"))
