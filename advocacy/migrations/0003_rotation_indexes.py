"""Indexes for ask rotation and the contact budget (issue 4):

- ``advocate_rotation_queue``: active advocates by ``last_asked_at``, never asked first.
  Rotation reads its queue in that order and stops early. SQLite cannot declare NULLS
  FIRST in an index (its ascending order puts NULLs first anyway), so there the same
  index is created without the modifier.
- ``contact_budget_window``: the workspace's contacts of the rolling 30 days.
"""

from django.db import migrations, models

QUEUE = models.Index(
    models.F("workspace"), models.OrderBy(models.F("last_asked_at"), nulls_first=True),
    condition=models.Q(("stage", "active")), name="advocate_rotation_queue",
)


def create_queue(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("advocacy", "Advocate"), QUEUE)
    else:
        schema_editor.execute(
            "CREATE INDEX advocate_rotation_queue ON advocacy_advocate (workspace_id, last_asked_at) WHERE stage = 'active'"
        )


def drop_queue(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS advocate_rotation_queue")


class Migration(migrations.Migration):
    dependencies = [
        ("advocacy", "0002_contact_contacthold_suppression_task"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="advocate", index=QUEUE)],
            database_operations=[migrations.RunPython(create_queue, drop_queue)],
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["workspace", "at"], name="contact_budget_window"),
        ),
    ]
