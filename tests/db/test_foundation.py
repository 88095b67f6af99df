"""Foundation on every backend: append-only audit table, roles, CLI commands, demo idempotence."""

import io

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from stockledger.catalog.models import Warehouse
from stockledger.core import audit
from stockledger.core.errors import PermissionDenied
from stockledger.core.models import AuditLog
from stockledger.core.roles import Role, authorize

pytestmark = pytest.mark.django_db


def test_audit_rows_cannot_be_updated_or_deleted_in_the_database():
    audit.record("tester", "thing.create", "thing", 1, None, {"a": 1})
    row = AuditLog.objects.latest("id")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE core_auditlog SET action = 'forged' WHERE id = %s", [row.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditlog WHERE id = %s", [row.pk])
    assert AuditLog.objects.get(pk=row.pk).action == "thing.create"


def test_six_roles_exist_as_groups():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_createuser_and_token_commands():
    out = io.StringIO()
    call_command("createuser", "clerk9", role="INVENTORY_CLERK", password="longenough", stdout=out)
    assert "Created user clerk9" in out.getvalue()
    out = io.StringIO()
    call_command("token", "clerk9", stdout=out)
    token = out.getvalue().strip()
    assert len(token) == 40
    again = io.StringIO()
    call_command("token", "clerk9", stdout=again)
    assert again.getvalue().strip() == token


def test_user_limited_to_a_warehouse_is_refused_elsewhere(make_user):
    a = Warehouse.objects.create(code="a", name="A")
    b = Warehouse.objects.create(code="b", name="B")
    clerk = make_user(Role.INVENTORY_CLERK, warehouses=[a])
    authorize(clerk, "stock.issue", [a.pk])
    with pytest.raises(PermissionDenied) as err:
        authorize(clerk, "stock.issue", [b.pk])
    assert err.value.code == "warehouse_not_assigned"
    boss = make_user(Role.ADMIN, warehouses=[a])
    authorize(boss, "stock.issue", [b.pk])


def test_demo_is_idempotent():
    call_command("demo", stdout=io.StringIO())
    counts = (Warehouse.objects.count(), AuditLog.objects.count())
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert (Warehouse.objects.count(), AuditLog.objects.count()) == counts
    assert "already loaded" in out.getvalue()
    assert "admin-demo-1" in out.getvalue()
