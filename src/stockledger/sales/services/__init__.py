"""Sales writes: LPG products, sales (transaction + lines + ledger legs + invoice), invoice status."""

from .invoices import TRANSITIONS, allowed_actions, invoice_pay, invoice_send, invoice_transition, invoice_void
from .legs import LEDGER_KIND, LEGS_BY_KIND, LineForLegs, legs_for
from .products import lpg_product_create, lpg_product_setup, lpg_product_type
from .sales import sale_create, sale_legs

__all__ = [
    "LEDGER_KIND",
    "LEGS_BY_KIND",
    "TRANSITIONS",
    "LineForLegs",
    "allowed_actions",
    "invoice_pay",
    "invoice_send",
    "invoice_transition",
    "invoice_void",
    "legs_for",
    "lpg_product_create",
    "lpg_product_setup",
    "lpg_product_type",
    "sale_create",
    "sale_legs",
]
