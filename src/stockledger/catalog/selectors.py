"""Catalog reads."""

from decimal import Decimal, InvalidOperation

import django_filters

from .models import Item


def item_list():
    return Item.objects.select_related("product_type").order_by("product_type__name", "id")


class ItemFilter(django_filters.FilterSet):
    product_type = django_filters.CharFilter(field_name="product_type__code")
    q = django_filters.CharFilter(method="search")

    class Meta:
        model = Item
        fields = ["product_type", "active", "can_expire", "issuance_order", "sku"]

    def search(self, queryset, name, value):
        return queryset.filter(name__icontains=value) | queryset.filter(sku__icontains=value)


def natural_key(value) -> tuple:
    """Numbers sort as numbers ("20" < "110"), text case-insensitively; numbers before text."""
    text = str(value)
    try:
        return (0, Decimal(text), "")
    except (InvalidOperation, ValueError):
        return (1, Decimal(0), text.lower())


def item_sort_key(item: Item) -> tuple:
    attrs = item.attributes or {}
    schema = [a["name"] for a in item.product_type.attribute_schema]
    return (item.product_type.name, *(natural_key(attrs.get(n, "")) for n in schema), item.pk)


def sort_items_naturally(qs) -> list[Item]:
    return sorted(qs, key=item_sort_key)
