from django.db import migrations, models
from django.db.models import F


def backfill_decided_at(apps, schema_editor):
    """Existing won or lost deals: the last change is the best record of their decision."""
    Outcome = apps.get_model("programs", "Outcome")
    Outcome._base_manager.filter(kind="deal", deal_status__in=["won", "lost"], decided_at__isnull=True).update(
        decided_at=F("updated_at"))


class Migration(migrations.Migration):

    dependencies = [
        ("programs", "0002_rotation_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="outcome",
            name="decided_at",
            field=models.DateTimeField(blank=True, help_text="When a deal was marked won or lost (empty while open); other edits keep it.", null=True),
        ),
        migrations.RunPython(backfill_decided_at, migrations.RunPython.noop),
    ]
