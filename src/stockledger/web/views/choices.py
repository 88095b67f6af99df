"""The option lists of the forms (reads only): variants in natural order, warehouses, customers."""

from stockledger.catalog.models import Customer, Item, Warehouse
from stockledger.catalog.selectors import item_sort_key
from stockledger.pieces.display import variant_label


def pipe_variants() -> list[dict]:
    """Pipe variants (product types with stock forms), naturally ordered, with their spec label."""
    items = Item.objects.select_related("product_type").filter(product_type__has_stock_forms=True, active=True)
    return [
        {
            "id": it.pk,
            "label": variant_label(it.product_type.code, it.attributes or {}, include_brand=True),
            "unit": it.product_type.base_unit,
            "rolls": it.product_type.base_unit.strip().lower() in {"m", "metre", "meter", "metres", "meters"},
        }
        for it in sorted(items, key=item_sort_key)
    ]


def batch_items() -> list[Item]:
    """Batch-tracked items without stock forms (relief items, general goods)."""
    qs = Item.objects.select_related("product_type").filter(
        product_type__batch_tracked=True, product_type__has_stock_forms=False, active=True
    )
    return sorted(qs, key=item_sort_key)


def unbatched_items() -> list[Item]:
    """Items posted through the ledger without batches (LPG cylinders)."""
    qs = Item.objects.select_related("product_type").filter(product_type__batch_tracked=False, active=True)
    return sorted(qs, key=item_sort_key)


def warehouses(*kinds: str):
    qs = Warehouse.objects.filter(active=True).order_by("name")
    return qs.filter(kind__in=kinds) if kinds else qs


def customers():
    return Customer.objects.filter(active=True).order_by("name")
