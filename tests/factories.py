"""Small builders for reference data, used by db and api tests of every app."""

import itertools

from stockledger.catalog.models import Customer, Item, ProductType, Warehouse

_n = itertools.count(1)


def product_type(*, unit="piece", decimals=0, batch_tracked=True, code=None, **kw) -> ProductType:
    code = code or f"pt-{next(_n)}"
    return ProductType.objects.create(
        code=code, name=kw.pop("name", code), base_unit=unit, unit_decimals=decimals, batch_tracked=batch_tracked, **kw
    )


def item(pt: ProductType | None = None, *, issuance_order="FEFO", can_expire=False, **kw) -> Item:
    pt = pt or product_type()
    n = next(_n)
    return Item.objects.create(
        product_type=pt,
        sku=kw.pop("sku", f"SKU-{n}"),
        name=kw.pop("name", f"Item {n}"),
        attributes=kw.pop("attributes", {}),
        variant_key=f"v{n}",
        issuance_order=issuance_order,
        can_expire=can_expire,
        **kw,
    )


def warehouse(**kw) -> Warehouse:
    n = next(_n)
    return Warehouse.objects.create(code=kw.pop("code", f"wh-{n}"), name=kw.pop("name", f"Warehouse {n}"), **kw)


def customer(**kw) -> Customer:
    n = next(_n)
    return Customer.objects.create(code=kw.pop("code", f"c-{n}"), name=kw.pop("name", f"Customer {n}"), **kw)
