"""Sales reads: sales, invoices (and what a printed invoice shows), depot stock snapshots."""

import django_filters
from django.conf import settings
from django.db.models import Q

from stockledger.core.api import MAX_ID
from stockledger.stock.models import Inventory

from .models import Invoice, LpgProduct, SalesTransaction


def lpg_product_list():
    return LpgProduct.objects.select_related("full_item", "empty_item")


def sale_list():
    return SalesTransaction.objects.select_related("customer", "depot", "user", "invoice").prefetch_related(
        "lines__product"
    )


def invoice_list():
    return Invoice.objects.select_related("transaction__customer", "transaction__depot").prefetch_related(
        "transaction__lines__product"
    )


def depot_stock_list():
    """Snapshot rows of non-batched items (cylinders) at depots, trucks and customers' sites."""
    return Inventory.objects.filter(item__product_type__batch_tracked=False).select_related(
        "item__lpg_full_of", "item__lpg_empty_of", "warehouse", "holder"
    )


def _null_or_id(qs, field: str, value: str):
    if str(value).strip().lower() in {"none", "null", "0"}:
        return qs.filter(**{f"{field}__isnull": True})
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return qs.none()
    return qs.filter(**{f"{field}_id": pk}) if 0 < pk <= MAX_ID else qs.none()


class SaleFilter(django_filters.FilterSet):
    date_from = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    date_to = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = SalesTransaction
        fields = ["customer", "depot", "number"]


class InvoiceFilter(django_filters.FilterSet):
    # Bounded: an id past the key column's range would overflow the driver (a 500) instead of a 400.
    customer = django_filters.NumberFilter(field_name="transaction__customer", min_value=1, max_value=MAX_ID)
    depot = django_filters.NumberFilter(field_name="transaction__depot", min_value=1, max_value=MAX_ID)

    class Meta:
        model = Invoice
        fields = ["status", "year", "number"]


class DepotStockFilter(django_filters.FilterSet):
    """?warehouse=ID|none&holder=ID|none&item=ID&product=ID (LPG product: its FULL and EMPTY rows)."""

    warehouse = django_filters.CharFilter(method="filter_warehouse")
    holder = django_filters.CharFilter(method="filter_holder")
    product = django_filters.NumberFilter(method="filter_product")
    in_stock = django_filters.BooleanFilter(method="filter_in_stock")

    class Meta:
        model = Inventory
        fields = ["item"]

    def filter_warehouse(self, qs, name, value):
        return _null_or_id(qs, "warehouse", value)

    def filter_holder(self, qs, name, value):
        return _null_or_id(qs, "holder", value)

    def filter_product(self, qs, name, value):
        return qs.filter(Q(item__lpg_full_of__pk=value) | Q(item__lpg_empty_of__pk=value))

    def filter_in_stock(self, qs, name, value):
        return qs.filter(usable_qty__gt=0) if value else qs.filter(usable_qty=0)


def cylinder_state(inventory: Inventory) -> tuple[LpgProduct | None, str | None]:
    """(LPG product, "FULL" | "EMPTY") of a snapshot row's item, or (None, None)."""
    for attr, state in (("lpg_full_of", "FULL"), ("lpg_empty_of", "EMPTY")):
        product = getattr(inventory.item, attr, None)
        if product is not None:
            return product, state
    return None, None


def invoice_document(invoice: Invoice) -> dict:
    """Everything a printed invoice shows (HTML page and PDF alike)."""
    trx = invoice.transaction
    lines = list(trx.lines.all())
    return {
        "seller": getattr(settings, "STOCKLEDGER_SELLER_NAME", "stockledger LPG"),
        "invoice": invoice,
        "transaction": trx,
        "customer": trx.customer,
        "depot": trx.depot,
        "lines": [
            {
                "position": ln.position,
                "product": ln.product.name,
                "kind": ln.get_kind_display(),
                "quantity": ln.quantity,
                "unit_price": ln.unit_price,
                "amount": ln.amount,
            }
            for ln in lines
        ],
        "total_amount": invoice.total_amount,
    }
