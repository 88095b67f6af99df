"""Stock reads: batches, inventory rows, the ledger."""

from datetime import UTC

import django_filters
from django import forms
from django.db.models import F
from django_filters.fields import IsoDateTimeField

from .models import Batch, Inventory, LedgerEntry


def batch_list():
    return Batch.objects.select_related("item__product_type", "warehouse").annotate(
        available=F("usable_qty") - F("reserved_qty")
    )


def inventory_list():
    return Inventory.objects.select_related("item__product_type", "warehouse", "holder").annotate(
        available=F("usable_qty") - F("reserved_qty")
    )


def ledger_list():
    return LedgerEntry.objects.select_related("actor")


class BatchFilter(django_filters.FilterSet):
    product_type = django_filters.CharFilter(field_name="item__product_type__code")
    expiry_before = django_filters.DateFilter(field_name="expiry_date", lookup_expr="lte")
    expiry_after = django_filters.DateFilter(field_name="expiry_date", lookup_expr="gte")
    date_from = django_filters.DateFilter(field_name="batch_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="batch_date", lookup_expr="lte")
    in_stock = django_filters.BooleanFilter(method="filter_in_stock")

    class Meta:
        model = Batch
        fields = ["item", "warehouse", "status", "origin", "batch_no"]

    def filter_in_stock(self, qs, name, value):
        return qs.filter(usable_qty__gt=0) if value else qs.filter(usable_qty=0)


class InventoryFilter(django_filters.FilterSet):
    product_type = django_filters.CharFilter(field_name="item__product_type__code")
    below_reorder = django_filters.BooleanFilter(method="filter_below_reorder")

    class Meta:
        model = Inventory
        fields = ["item", "warehouse", "holder"]

    def filter_below_reorder(self, qs, name, value):
        low = qs.filter(reorder_qty__gt=0, usable_qty__lt=F("reorder_qty"))
        return low if value else qs.exclude(pk__in=low.values("pk"))


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, turned into UTC: ISO allows offsets up to ±23:59, PostgreSQL refuses
    one past ±15:59 (a 500). A value that leaves years 1-9999 in UTC is a 400."""

    def to_python(self, value):
        value = super().to_python(value)
        try:
            return value.astimezone(UTC) if value is not None else None
        except OverflowError:
            raise forms.ValidationError("Enter a date-time within years 1 to 9999 in UTC.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class LedgerFilter(django_filters.FilterSet):
    since = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = LedgerEntry
        fields = ["item", "warehouse", "holder", "batch", "kind", "doc_type", "doc_id"]
