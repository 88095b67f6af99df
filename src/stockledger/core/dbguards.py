"""Database-level guards written once per backend: append-only tables (I8).

Used by migrations (install) and by the test suite (drop/reinstall around a flush of committed test
data). The application never calls `drop`.
"""

from django.db.backends.base.base import BaseDatabaseWrapper

APPEND_ONLY_MESSAGE = "append-only table {table}: {op} is not allowed"


def _pg(table: str) -> list[str]:
    return [
        """CREATE OR REPLACE FUNCTION stockledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'append-only table %: % is not allowed', TG_TABLE_NAME, TG_OP;
        END $$""",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION stockledger_append_only()""",
    ]


def _sqlite(table: str) -> list[str]:
    out = []
    for op in ("UPDATE", "DELETE"):
        name = f"{table}_no_{op.lower()}"
        msg = APPEND_ONLY_MESSAGE.format(table=table, op=op)
        out += [
            f"DROP TRIGGER IF EXISTS {name}",
            f"CREATE TRIGGER {name} BEFORE {op} ON {table} BEGIN SELECT RAISE(ABORT, '{msg}'); END",
        ]
    return out


def _mysql(table: str) -> list[str]:
    out = []
    for op in ("UPDATE", "DELETE"):
        name = f"{table}_no_{op.lower()}"
        msg = APPEND_ONLY_MESSAGE.format(table=table, op=op)
        out += [
            f"DROP TRIGGER IF EXISTS {name}",
            f"CREATE TRIGGER {name} BEFORE {op} ON {table} FOR EACH ROW "
            f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{msg}'",
        ]
    return out


def append_only_sql(vendor: str, table: str) -> list[str]:
    return {"postgresql": _pg, "sqlite": _sqlite, "mysql": _mysql}[vendor](table)


def drop_append_only_sql(vendor: str, table: str) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"]
    return [f"DROP TRIGGER IF EXISTS {table}_no_{op}" for op in ("update", "delete")]


def install_append_only(connection: BaseDatabaseWrapper, tables: list[str]) -> None:
    with connection.cursor() as cur:
        for table in tables:
            for sql in append_only_sql(connection.vendor, table):
                cur.execute(sql)


def drop_append_only(connection: BaseDatabaseWrapper, tables: list[str]) -> None:
    with connection.cursor() as cur:
        for table in tables:
            for sql in drop_append_only_sql(connection.vendor, table):
                cur.execute(sql)


# Every append-only table of the project; apps add theirs in their migration and here.
APPEND_ONLY_TABLES = ["core_auditlog", "stock_ledgerentry"]


def append_only_migration(table: str):
    """A RunPython operation for a migration that installs the guard on one table."""
    from django.db import migrations

    def forward(apps, schema_editor):
        install_append_only(schema_editor.connection, [table])

    def backward(apps, schema_editor):
        drop_append_only(schema_editor.connection, [table])

    return migrations.RunPython(forward, backward)
