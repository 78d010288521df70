"""The database itself refuses UPDATE and DELETE on ledger entries (append-only).

TRUNCATE stays allowed: it is what the test runner uses to empty tables, and no
application path issues it."""

from django.db import migrations

TABLE = "rewards_ledgerentry"

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION rewards_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % on {TABLE} is refused; write a reversing entry instead', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER rewards_ledger_append_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION rewards_ledger_append_only();
"""
POSTGRES_DOWN = f"""
DROP TRIGGER IF EXISTS rewards_ledger_append_only ON {TABLE};
DROP FUNCTION IF EXISTS rewards_ledger_append_only();
"""
SQLITE_UP = [
    f"CREATE TRIGGER rewards_ledger_no_update BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE is refused'); END;",
    f"CREATE TRIGGER rewards_ledger_no_delete BEFORE DELETE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE is refused'); END;",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS rewards_ledger_no_update;", "DROP TRIGGER IF EXISTS rewards_ledger_no_delete;"]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = [POSTGRES_UP] if vendor == "postgresql" else SQLITE_UP if vendor == "sqlite" else []
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = [POSTGRES_DOWN] if vendor == "postgresql" else SQLITE_DOWN if vendor == "sqlite" else []
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
