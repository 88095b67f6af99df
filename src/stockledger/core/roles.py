"""Roles (DESIGN §4) and the one table of who may do what.

Roles are Django groups (created by a migration). A user may be limited to some warehouses by
catalog.WarehouseAssignment; a user with no assignment acts everywhere, ADMIN always does.
Services call `authorize`; views never decide a permission of their own.
"""

from collections.abc import Iterable
from enum import StrEnum

from .errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "ADMIN"
    LOGISTICS_MANAGER = "LOGISTICS_MANAGER"
    LOGISTICS_OFFICER = "LOGISTICS_OFFICER"
    INVENTORY_CLERK = "INVENTORY_CLERK"
    SALES = "SALES"
    READER = "READER"


A, LM, LO, CLERK, SALES, READER = (
    Role.ADMIN,
    Role.LOGISTICS_MANAGER,
    Role.LOGISTICS_OFFICER,
    Role.INVENTORY_CLERK,
    Role.SALES,
    Role.READER,
)

# action -> roles allowed. Reading is allowed to every role.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "read": frozenset(Role),
    "catalog.write": frozenset({A, LM}),
    "stock.receive": frozenset({A, LM, CLERK}),
    "stock.issue": frozenset({A, LM, CLERK}),
    "stock.transfer": frozenset({A, LM, CLERK}),
    "stock.adjust.request": frozenset({A, LM, CLERK}),
    "stock.adjust.approve": frozenset({A, LM}),
    "stock.restore": frozenset({A, LM}),
    "stock.reserve": frozenset({A, LM, LO}),
    "stock.import": frozenset({A, LM}),
    "pipes.operate": frozenset({A, LM, CLERK}),
    "pipes.revert_dispatch": frozenset({A, LM, CLERK}),
    "pipes.revert_privileged": frozenset({A, LM}),
    "relief.prepare": frozenset({A, LM, LO}),
    "relief.approve": frozenset({A, LM}),
    "relief.handover": frozenset({A, LM, CLERK}),
    "ledger.post": frozenset({A, LM, SALES}),
    "sales.write": frozenset({A, LM, SALES}),
    "reconcile.run": frozenset({A, LM}),
    "users.manage": frozenset({A}),
}


def roles_of(user) -> frozenset[Role]:
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_stockledger_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            names.add(Role.ADMIN)
        cached = frozenset(Role(n) for n in names if n in Role.__members__)
        user._stockledger_roles = cached
    return cached


def has_role(user, *roles: Role) -> bool:
    return bool(roles_of(user) & set(roles))


def can(user, action: str) -> bool:
    return bool(roles_of(user) & PERMISSIONS[action])


def warehouse_scope(user) -> frozenset[int] | None:
    """The warehouse ids a user may act in, or None for everywhere."""
    if Role.ADMIN in roles_of(user):
        return None
    cached = getattr(user, "_stockledger_scope", "unset")
    if cached == "unset":
        from stockledger.catalog.models import WarehouseAssignment

        ids = frozenset(WarehouseAssignment.objects.filter(user=user).values_list("warehouse_id", flat=True))
        cached = ids or None
        user._stockledger_scope = cached
    return cached


def authorize(user, action: str, warehouses: Iterable[int | None] = ()) -> None:
    """Raise 403 unless the user's role allows the action in every warehouse named."""
    if not can(user, action):
        allowed = ", ".join(sorted(PERMISSIONS[action]))
        raise PermissionDenied(
            f"Your role does not allow this ({action}); it needs one of: {allowed}.",
            extra={"action": action, "roles": sorted(PERMISSIONS[action])},
        )
    scope = warehouse_scope(user)
    if scope is None:
        return
    outside = sorted({w for w in warehouses if w is not None and w not in scope})
    if outside:
        raise PermissionDenied(
            "You are not assigned to this warehouse.",
            code="warehouse_not_assigned",
            extra={"warehouses": outside},
        )
