"""Catalog writes: product types, items (variants), warehouses, customers. Every change is audited."""

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from stockledger.core import audit
from stockledger.core.errors import NotFound, ValidationError
from stockledger.core.roles import authorize

from .models import Customer, Item, ProductType, Warehouse

ATTRIBUTE_TYPES = {"number", "text"}


def _snapshot(obj) -> dict:
    return {k: v for k, v in model_to_dict(obj).items() if k != "id"}


def _normalise_number(value) -> str:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError("must be a number") from None
    if not d.is_finite():
        raise ValueError("must be a number")
    text = format(d.normalize(), "f")
    return text


def validate_attributes(product_type: ProductType, attributes) -> dict[str, str]:
    """Check values against the type's schema; return them normalised (numbers without trailing zeros)."""
    if not isinstance(attributes, dict):
        raise ValidationError("Attributes must be an object.", fields={"attributes": ["must be an object"]})
    schema = {a["name"]: a for a in product_type.attribute_schema}
    errors: dict[str, list[str]] = {}
    clean: dict[str, str] = {}
    for name in attributes:
        if name not in schema:
            errors.setdefault(f"attributes.{name}", []).append(
                f"unknown attribute for {product_type.name}; expected one of: {', '.join(schema) or 'none'}"
            )
    for name, spec in schema.items():
        value = attributes.get(name)
        if value is None or str(value).strip() == "":
            if spec.get("required", True):
                errors.setdefault(f"attributes.{name}", []).append("this attribute is required")
            continue
        if spec.get("type") == "number":
            try:
                clean[name] = _normalise_number(value)
            except ValueError as e:
                errors.setdefault(f"attributes.{name}", []).append(str(e))
        else:
            clean[name] = str(value).strip()
    if errors:
        raise ValidationError("Some attributes are not valid.", fields=errors)
    return clean


def variant_key(attributes: dict[str, str]) -> str:
    return "|".join(f"{k}={attributes[k]}" for k in sorted(attributes))[:255]


def validate_schema(schema) -> list[dict]:
    if not isinstance(schema, list):
        raise ValidationError("attribute_schema must be a list.", fields={"attribute_schema": ["must be a list"]})
    seen, out = set(), []
    for i, a in enumerate(schema):
        if not isinstance(a, dict) or not str(a.get("name", "")).strip():
            raise ValidationError("Each attribute needs a name.", fields={f"attribute_schema.{i}": ["name required"]})
        if a.get("type", "text") not in ATTRIBUTE_TYPES:
            raise ValidationError(
                "Attribute type must be number or text.",
                fields={f"attribute_schema.{i}.type": ["number or text"]},
            )
        if a["name"] in seen:
            raise ValidationError("Attribute names must be unique.", fields={f"attribute_schema.{i}": ["duplicate"]})
        seen.add(a["name"])
        out.append(
            {
                "name": a["name"].strip(),
                "label": a.get("label") or a["name"],
                "type": a.get("type", "text"),
                "required": bool(a.get("required", True)),
            }
        )
    return out


def product_type_create(
    *,
    actor,
    code: str,
    name: str,
    base_unit: str,
    unit_decimals: int = 0,
    attribute_schema=(),
    has_stock_forms: bool = False,
    batch_tracked: bool = True,
) -> ProductType:
    authorize(actor, "catalog.write")
    if not 0 <= int(unit_decimals) <= 3:
        raise ValidationError("unit_decimals must be between 0 and 3.", fields={"unit_decimals": ["0 to 3"]})
    pt = ProductType(
        code=code,
        name=name,
        base_unit=base_unit,
        unit_decimals=unit_decimals,
        attribute_schema=validate_schema(list(attribute_schema)),
        has_stock_forms=has_stock_forms,
        batch_tracked=batch_tracked,
    )
    return _create(actor, pt, "product_type")


def _create(actor, obj, object_type: str, unique_message: str = "already exists"):
    try:
        with transaction.atomic():
            obj.save()
            audit.record(actor, f"{object_type}.create", object_type, obj.pk, None, _snapshot(obj))
    except IntegrityError:
        raise ValidationError(
            f"This {object_type.replace('_', ' ')} {unique_message}.",
            code="duplicate",
            fields={"code": [unique_message]},
        ) from None
    return obj


def item_create(
    *,
    actor,
    product_type: ProductType,
    sku: str,
    name: str = "",
    attributes=None,
    issuance_order: str = Item.IssuanceOrder.FIFO,
    can_expire: bool = False,
) -> Item:
    authorize(actor, "catalog.write")
    clean = validate_attributes(product_type, attributes or {})
    if issuance_order not in Item.IssuanceOrder.values:
        raise ValidationError("Unknown issuance order.", fields={"issuance_order": ["FEFO, FIFO or LIFO"]})
    key = variant_key(clean)
    if Item.objects.filter(product_type=product_type, variant_key=key).exists():
        raise ValidationError(
            "This variant already exists.",
            code="duplicate",
            fields={"attributes": ["a variant with these attribute values already exists"]},
        )
    if Item.objects.filter(sku=sku).exists():
        raise ValidationError("This SKU already exists.", code="duplicate", fields={"sku": ["already exists"]})
    item = Item(
        product_type=product_type,
        sku=sku,
        name=name or _default_name(product_type, clean),
        attributes=clean,
        variant_key=key,
        issuance_order=issuance_order,
        can_expire=can_expire,
    )
    return _create(actor, item, "item")


def _default_name(product_type: ProductType, attributes: dict) -> str:
    parts = ", ".join(f"{k}={v}" for k, v in attributes.items())
    return f"{product_type.name} {parts}".strip()


ITEM_EDITABLE = {"name", "attributes", "issuance_order", "can_expire", "active"}
WAREHOUSE_EDITABLE = {"name", "kind", "address", "active"}
CUSTOMER_EDITABLE = {"name", "kind", "address", "phone", "active"}


def _update(actor, model, pk: int, version: int | None, changes: dict, editable: set, object_type: str, clean=None):
    authorize(actor, "catalog.write")
    unknown = set(changes) - editable
    if unknown:
        raise ValidationError("These fields cannot be changed.", fields={f: ["read-only"] for f in sorted(unknown)})
    if version is None:
        raise ValidationError("version is required to update.", fields={"version": ["required"]})
    with transaction.atomic():
        obj = model.objects.select_for_update().filter(pk=pk).first()
        if obj is None:
            raise NotFound(f"{object_type.replace('_', ' ').capitalize()} {pk} not found.")
        before = _snapshot(obj)
        values = clean(obj, changes) if clean else changes
        model.update_if_version(
            pk, version, f"{object_type.replace('_', ' ').capitalize()} was modified, please retry", **values
        )
        obj.refresh_from_db()
        audit.record(actor, f"{object_type}.update", object_type, pk, before, _snapshot(obj))
    return obj


def _clean_item(item: Item, changes: dict) -> dict:
    values = dict(changes)
    if "attributes" in values:
        clean = validate_attributes(item.product_type, values["attributes"])
        key = variant_key(clean)
        if Item.objects.filter(product_type=item.product_type, variant_key=key).exclude(pk=item.pk).exists():
            raise ValidationError(
                "This variant already exists.",
                code="duplicate",
                fields={"attributes": ["a variant with these attribute values already exists"]},
            )
        values["attributes"], values["variant_key"] = clean, key
    if "issuance_order" in values and values["issuance_order"] not in Item.IssuanceOrder.values:
        raise ValidationError("Unknown issuance order.", fields={"issuance_order": ["FEFO, FIFO or LIFO"]})
    return values


def item_update(*, actor, item_id: int, version: int | None, **changes) -> Item:
    return _update(actor, Item, item_id, version, changes, ITEM_EDITABLE, "item", _clean_item)


def warehouse_create(
    *, actor, code: str, name: str, kind: str = Warehouse.Kind.WAREHOUSE, address: str = ""
) -> Warehouse:
    authorize(actor, "catalog.write")
    if kind not in Warehouse.Kind.values:
        raise ValidationError("Unknown warehouse kind.", fields={"kind": [", ".join(Warehouse.Kind.values)]})
    return _create(actor, Warehouse(code=code, name=name, kind=kind, address=address), "warehouse")


def warehouse_update(*, actor, warehouse_id: int, version: int | None, **changes) -> Warehouse:
    return _update(actor, Warehouse, warehouse_id, version, changes, WAREHOUSE_EDITABLE, "warehouse")


def customer_create(*, actor, code: str, name: str, kind: str = "", address: str = "", phone: str = "") -> Customer:
    authorize(actor, "catalog.write")
    return _create(actor, Customer(code=code, name=name, kind=kind, address=address, phone=phone), "customer")


def customer_update(*, actor, customer_id: int, version: int | None, **changes) -> Customer:
    return _update(actor, Customer, customer_id, version, changes, CUSTOMER_EDITABLE, "customer")
