from django.db import migrations

from stockledger.core.dbguards import append_only_migration


class Migration(migrations.Migration):
    dependencies = [("stock", "0001_initial")]

    operations = [append_only_migration("stock_ledgerentry")]
