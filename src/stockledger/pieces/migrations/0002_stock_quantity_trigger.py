"""The spec's `auto_update_stock_quantity` trigger (and the piece immutability guard) on each backend.

The SQL lives in stockledger.pieces.triggers (PostgreSQL: one plpgsql function + triggers; SQLite and
MariaDB: AFTER INSERT / UPDATE / DELETE triggers that update inventory_stock).
"""

from django.db import migrations


def forward(apps, schema_editor):
    from stockledger.pieces import triggers

    triggers.install(schema_editor.connection)


def backward(apps, schema_editor):
    from stockledger.pieces import triggers

    triggers.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("pieces", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
