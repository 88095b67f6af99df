"""LPG products: one cylinder size and its two items (FULL, EMPTY). Reference data, audited."""

from decimal import Decimal

from django.db import IntegrityError, transaction

from stockledger.catalog.models import Item, ProductType
from stockledger.catalog.services import item_create, product_type_create
from stockledger.core import audit
from stockledger.core.errors import ValidationError
from stockledger.core.roles import authorize
from stockledger.stock.validation import collect, to_decimal

from ..models import LpgProduct
from .parsing import as_id


def lpg_product_create(
    *, actor, code: str, name: str, size_kg, full_item_id, empty_item_id, active: bool = True
) -> LpgProduct:
    authorize(actor, "catalog.write")
    errors: dict[str, list[str]] = {}
    size = None
    if not str(code or "").strip():
        errors["code"] = ["required"]
    try:
        size = to_decimal(size_kg, "size_kg")
        if size <= 0 or size != size.quantize(Decimal("0.01")):
            errors["size_kg"] = ["a size in kg > 0 with at most 2 decimals"]
    except ValidationError as e:
        errors.update(e.extra["fields"])
    ids = {"full_item_id": as_id(full_item_id), "empty_item_id": as_id(empty_item_id)}
    items = Item.objects.select_related("product_type").in_bulk({i for i in ids.values() if i})
    for field, pk in ids.items():
        item = items.get(pk)
        if item is None:
            errors[field] = [f"unknown item {pk}" if pk else "an item id is required"]
        elif item.product_type.batch_tracked:
            errors[field] = [f"item {item.sku} is batch-tracked; cylinders are counted per depot, not per batch"]
        elif LpgProduct.objects.filter(full_item=item).exists() or LpgProduct.objects.filter(empty_item=item).exists():
            errors[field] = [f"item {item.sku} already belongs to an LPG product"]
    if ids["full_item_id"] and ids["full_item_id"] == ids["empty_item_id"]:
        errors["empty_item_id"] = ["the EMPTY item must differ from the FULL item"]
    collect(errors, "The LPG product is not valid.")
    product = LpgProduct(
        code=code.strip(),
        name=name or code,
        size_kg=size,
        full_item=items[ids["full_item_id"]],
        empty_item=items[ids["empty_item_id"]],
        active=active,
    )
    try:
        with transaction.atomic():
            product.save()
            audit.record(
                actor,
                "lpg_product.create",
                "lpg_product",
                product.pk,
                None,
                {
                    "code": product.code,
                    "name": product.name,
                    "size_kg": product.size_kg,
                    "full_item_id": product.full_item_id,
                    "empty_item_id": product.empty_item_id,
                },
            )
    except IntegrityError:
        raise ValidationError(
            "This LPG product already exists.", code="duplicate", fields={"code": ["already exists"]}
        ) from None
    return product


LPG_TYPE_CODE = "lpg-cylinder"
LPG_ATTRIBUTES = [
    {"name": "size_kg", "label": "Size (kg)", "type": "number", "required": True},
    {"name": "state", "label": "FULL or EMPTY", "type": "text", "required": True},
]


def lpg_product_type(*, actor) -> ProductType:
    """The product type of every cylinder item ("lpg-cylinder": unit cylinder, 0 decimals, not batched)."""
    pt = ProductType.objects.filter(code=LPG_TYPE_CODE).first()
    if pt is None:
        pt = product_type_create(
            actor=actor,
            code=LPG_TYPE_CODE,
            name="LPG cylinder",
            base_unit="cylinder",
            unit_decimals=0,
            attribute_schema=LPG_ATTRIBUTES,
            batch_tracked=False,
        )
    return pt


def lpg_product_setup(*, actor, code: str, name: str, size_kg) -> LpgProduct:
    """A new cylinder size in one go: its FULL and EMPTY items (SKUs CODE-FULL, CODE-EMPTY) and the
    product that links them. All or nothing."""
    authorize(actor, "catalog.write")
    with transaction.atomic():
        pt = lpg_product_type(actor=actor)
        items = {
            state: item_create(
                actor=actor,
                product_type=pt,
                sku=f"{code}-{state}".upper(),
                name=f"{name} {state.lower()}",
                attributes={"size_kg": str(size_kg), "state": state},
            )
            for state in ("FULL", "EMPTY")
        }
        return lpg_product_create(
            actor=actor,
            code=code,
            name=name,
            size_kg=size_kg,
            full_item_id=items["FULL"].pk,
            empty_item_id=items["EMPTY"].pk,
        )
