from django.core.management.base import BaseCommand, CommandError

from advocacy.models import Workspace
from advocacy.services.workspaces import create_api_key


class Command(BaseCommand):
    help = "Create an API key for a workspace and print it on the last line (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("workspace_slug")
        parser.add_argument("--name", default="Command-line key")

    def handle(self, *args, workspace_slug, name, **options):
        workspace = Workspace.objects.filter(slug=workspace_slug).first()
        if workspace is None:
            raise CommandError(f"No workspace with the slug “{workspace_slug}”.")
        new = create_api_key(workspace=workspace, name=name)
        self.stderr.write(f"API key “{new.api_key.name}” for {workspace.slug}; it is not stored, keep it now:")
        self.stdout.write(new.secret)
