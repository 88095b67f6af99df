"""The two pipe product types of the spec (HDPE pipe in metres, sprinkler pipe in pieces)."""

from django.db import migrations


def _attr(name, label, kind):
    return {"name": name, "label": label, "type": kind, "required": True}


PRODUCT_TYPES = [
    {
        "code": "hdpe",
        "name": "HDPE pipe",
        "base_unit": "metre",
        "unit_decimals": 3,
        "attribute_schema": [
            _attr("OD", "Outer diameter (mm)", "number"),
            _attr("PN", "Pressure rating (PN)", "number"),
            _attr("PE", "Material grade (PE)", "number"),
            _attr("Brand", "Brand", "text"),
        ],
    },
    {
        "code": "sprinkler",
        "name": "Sprinkler pipe",
        "base_unit": "piece",
        "unit_decimals": 0,
        "attribute_schema": [
            _attr("OD", "Outer diameter (mm)", "number"),
            _attr("PN", "Pressure rating (PN)", "number"),
            _attr("Type", "Type", "text"),
            _attr("Brand", "Brand", "text"),
        ],
    },
]


def create(apps, schema_editor):
    ProductType = apps.get_model("catalog", "ProductType")
    for spec in PRODUCT_TYPES:
        values = {k: v for k, v in spec.items() if k != "code"}
        ProductType.objects.update_or_create(
            code=spec["code"], defaults={**values, "has_stock_forms": True, "batch_tracked": True}
        )


def remove(apps, schema_editor):
    ProductType = apps.get_model("catalog", "ProductType")
    Item = apps.get_model("catalog", "Item")
    for spec in PRODUCT_TYPES:
        if not Item.objects.filter(product_type__code=spec["code"]).exists():
            ProductType.objects.filter(code=spec["code"]).delete()


class Migration(migrations.Migration):
    dependencies = [("pieces", "0002_stock_quantity_trigger"), ("catalog", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
