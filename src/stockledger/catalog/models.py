from decimal import Decimal

from django.conf import settings
from django.db import models

from stockledger.core.models import Versioned


class ProductType(Versioned):
    """HDPE pipe, sprinkler pipe, relief item, LPG cylinder...: attributes, base unit and its decimals."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    # [{"name": "OD", "label": "Outer diameter (mm)", "type": "number"|"text", "required": true}, ...]
    attribute_schema = models.JSONField(default=list, blank=True)
    base_unit = models.CharField(max_length=20, help_text="metre, piece, cylinder, kg, ...")
    unit_decimals = models.PositiveSmallIntegerField(default=0, help_text="decimal places the unit allows")
    has_stock_forms = models.BooleanField(default=False, help_text="rolls, bundles, cut pieces, spares")
    batch_tracked = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.unit_decimals)


class Item(Versioned):
    """A product variant / relief item / LPG product: product type + attribute values."""

    class IssuanceOrder(models.TextChoices):
        FEFO = "FEFO", "First expiry, first out"
        FIFO = "FIFO", "First in, first out"
        LIFO = "LIFO", "Last in, first out"

    product_type = models.ForeignKey(ProductType, on_delete=models.PROTECT, related_name="items")
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    attributes = models.JSONField(default=dict, blank=True)
    variant_key = models.CharField(max_length=255, editable=False)
    issuance_order = models.CharField(max_length=4, choices=IssuanceOrder.choices, default=IssuanceOrder.FIFO)
    can_expire = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["product_type__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["product_type", "variant_key"], name="item_variant_unique"),
        ]

    def __str__(self):
        return self.name


class Warehouse(Versioned):
    class Kind(models.TextChoices):
        WAREHOUSE = "warehouse", "Warehouse"
        DEPOT = "depot", "Depot"
        FACTORY_YARD = "factory_yard", "Factory yard"
        VEHICLE = "vehicle", "Vehicle"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.WAREHOUSE)
    address = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Customer(Versioned):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=40, blank=True, help_text="agency, shelter, household, business, ...")
    address = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class WarehouseAssignment(models.Model):
    """Limits a user to some warehouses (a user with none acts everywhere; ADMIN always does)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="warehouse_assignments")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="assignments")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "warehouse"], name="assignment_unique")]

    def __str__(self):
        return f"{self.user} @ {self.warehouse}"
