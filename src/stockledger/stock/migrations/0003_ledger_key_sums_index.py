"""The ledger's (item, warehouse, holder) index becomes covering: it also holds qty_delta and
reserved_delta, so a Σ per inventory key (reconcile verify / recompute, I1 and I2) reads the index alone,
in key order. The new index is created before the old one is dropped: on MariaDB the item foreign key
may be using the old one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("stock", "0002_ledger_append_only")]

    operations = [
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                fields=["item", "warehouse", "holder", "qty_delta", "reserved_delta"], name="ledger_key_sums"
            ),
        ),
        migrations.RemoveIndex(model_name="ledgerentry", name="stock_ledge_item_id_34f83c_idx"),
    ]
