"""Index for the fatigue rule "rest after a large ask" (issue 4): approved assignments of
a workspace by when they were decided."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(fields=["workspace", "state", "decided_at"], name="assignment_state_decided"),
        ),
    ]
