"""Which ledger legs a sale line posts: the one table (docs/sales.md), as pure functions.

A leg moves one item at one place: the sale's depot (or truck), or the customer's site (holder =
the customer, warehouse NULL). FULL and EMPTY are the two items of the line's LPG product.

| line kind | legs (q = line quantity)                              |
|-----------|--------------------------------------------------------|
| SALE      | depot FULL −q, customer-held FULL +q                   |
| REFILL    | depot FULL −q, depot EMPTY +q                          |
| SWAP      | depot FULL −q, depot EMPTY +q                          |
| RETURN    | customer-held FULL −q, depot EMPTY +q                  |
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Place = Literal["depot", "customer"]
State = Literal["FULL", "EMPTY"]

LEGS_BY_KIND: dict[str, tuple[tuple[Place, State, int], ...]] = {
    "SALE": (("depot", "FULL", -1), ("customer", "FULL", +1)),
    "REFILL": (("depot", "FULL", -1), ("depot", "EMPTY", +1)),
    "SWAP": (("depot", "FULL", -1), ("depot", "EMPTY", +1)),
    "RETURN": (("customer", "FULL", -1), ("depot", "EMPTY", +1)),
}

# Every leg of a sale is one ledger kind; the line kind is on the sale's line, the ledger rows point
# to the sale (doc_type "sale", doc_id = transaction id).
LEDGER_KIND = "SALE"


@dataclass(frozen=True)
class LineForLegs:
    kind: str
    quantity: int
    full_item_id: int
    empty_item_id: int


def legs_for(line: LineForLegs, *, depot_id: int, customer_id: int, index: int = 0) -> list[dict]:
    """The legs of one line, in the shape stock.services.postings.post_legs takes."""
    out = []
    for place, state, sign in LEGS_BY_KIND[line.kind]:
        out.append(
            {
                "i": index,
                "item": line.full_item_id if state == "FULL" else line.empty_item_id,
                "warehouse": depot_id if place == "depot" else None,
                "holder": customer_id if place == "customer" else None,
                "qty_delta": Decimal(sign * line.quantity),
            }
        )
    return out
