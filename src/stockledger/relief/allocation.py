"""Batch allocation rules for relief packages, as pure functions.

No Django here: the services load batches, call these functions, then lock and write.
Quantities are ``Decimal``, dates are ``datetime.date``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from stockledger.stock.rules import reservation_deltas as reservation_deltas  # the seed-001 rule, kept once

ZERO = Decimal("0")


@dataclass(frozen=True)
class BatchOption:
    """One batch that a relief package line could draw from."""

    batch_id: int
    batch_no: str
    batch_date: date | None
    expiry_date: date | None
    usable_qty: Decimal
    reserved_qty: Decimal
    held_by_this_package: Decimal = ZERO  # what the package being edited already reserves here

    @property
    def available(self) -> Decimal:
        """Quantity this package may take: usable - reserved + what it already holds, never below 0."""
        return max(ZERO, self.usable_qty - self.reserved_qty + self.held_by_this_package)

    def is_expired(self, today: date) -> bool:
        """True when the batch expired before ``today`` (expiring today is still usable)."""
        return self.expiry_date is not None and self.expiry_date < today


class IssuanceOrder(StrEnum):
    """Which batch is issued first."""

    FEFO = "FEFO"  # first expiry, first out
    FIFO = "FIFO"  # oldest batch first
    LIFO = "LIFO"  # newest batch first


@dataclass(frozen=True)
class Plan:
    """A greedy allocation: (batch_id, qty) lines in issuance order."""

    lines: list[tuple[int, Decimal]] = field(default_factory=list)
    allocated: Decimal = ZERO
    shortfall: Decimal = ZERO


@dataclass(frozen=True)
class Deviation:
    """How a chosen allocation differs from the greedy plan, and why it matters."""

    planned: list[tuple[int, Decimal]]
    chosen: list[tuple[int, Decimal]]
    reasons: list[str]


def _date_key(value: date | None) -> tuple[bool, int]:
    """Sort key putting dates ascending and ``None`` last."""
    return (value is None, value.toordinal() if value is not None else 0)


def _sort_key(option: BatchOption, order: IssuanceOrder) -> tuple:
    if order is IssuanceOrder.FEFO:
        return (*_date_key(option.expiry_date), *_date_key(option.batch_date), option.batch_id)
    if order is IssuanceOrder.FIFO:
        return (*_date_key(option.batch_date), option.batch_id)
    # LIFO: newest batch_date first, NULL last, ties by batch_id descending.
    newest_first = -option.batch_date.toordinal() if option.batch_date is not None else 0
    return (option.batch_date is None, newest_first, -option.batch_id)


def order_batches(options: Iterable[BatchOption], order: IssuanceOrder | str, today: date) -> list[BatchOption]:
    """Usable batches (not expired, something available) in issuance order."""
    order = IssuanceOrder(order)
    options = list(options)
    ids = [option.batch_id for option in options]
    if len(ids) != len(set(ids)):
        raise ValueError("Each batch may appear only once among the options.")
    usable = [o for o in options if not o.is_expired(today) and o.available > ZERO]
    return sorted(usable, key=lambda option: _sort_key(option, order))


def suggest_allocation(
    options: Iterable[BatchOption], order: IssuanceOrder | str, requested_qty: Decimal, today: date
) -> Plan:
    """Fill ``requested_qty`` greedily from the batches in issuance order."""
    if requested_qty <= ZERO:
        raise ValueError("Requested quantity must be greater than zero.")
    lines: list[tuple[int, Decimal]] = []
    remaining = requested_qty
    for option in order_batches(options, order, today):
        if remaining <= ZERO:
            break
        take = min(option.available, remaining)
        lines.append((option.batch_id, take))
        remaining -= take
    allocated = requested_qty - remaining
    return Plan(lines=lines, allocated=allocated, shortfall=remaining)


def _describe(option: BatchOption, other: BatchOption, order: IssuanceOrder) -> str:
    """The dates that decide ``option``'s place in ``order`` (batch date added on an expiry tie)."""
    batch_date = f"batch date {option.batch_date}" if option.batch_date else "no batch date"
    if order is IssuanceOrder.FEFO:
        expiry = f"expires {option.expiry_date}" if option.expiry_date else "no expiry date"
        return f"{expiry}, {batch_date}" if option.expiry_date == other.expiry_date else expiry
    return batch_date


def plan_deviation(
    options: Iterable[BatchOption],
    order: IssuanceOrder | str,
    chosen: Mapping[int, Decimal],
    today: date,
) -> Deviation | None:
    """Compare a chosen {batch_id: qty} with the greedy plan for the same total; None when equal."""
    order = IssuanceOrder(order)
    if any(qty < ZERO for qty in chosen.values()):
        raise ValueError("Chosen quantities cannot be negative.")
    picked = {batch_id: qty for batch_id, qty in chosen.items() if qty > ZERO}
    total = sum(picked.values(), ZERO)
    ordered = order_batches(options, order, today)
    planned = suggest_allocation(ordered, order, total, today).lines if total > ZERO else []
    if dict(planned) == picked:
        return None

    position = {option.batch_id: index for index, option in enumerate(ordered)}
    chosen_lines = sorted(picked.items(), key=lambda line: (line[0] not in position, position.get(line[0], 0), line[0]))
    reasons: list[str] = []
    for batch_id, _qty in chosen_lines:
        if batch_id not in position:
            continue  # unknown, expired or empty: the service rejects it, not this rule
        option = ordered[position[batch_id]]
        skipped = next(
            (
                earlier
                for earlier in ordered[: position[batch_id]]
                if earlier.available - picked.get(earlier.batch_id, ZERO) > ZERO
            ),
            None,
        )
        if skipped is not None:
            reasons.append(
                f"Batch {skipped.batch_no} ({_describe(skipped, option, order)}) would be issued before "
                f"batch {option.batch_no} ({_describe(option, skipped, order)}) under {order.value}"
            )
    return Deviation(planned=planned, chosen=chosen_lines, reasons=reasons)
