"""The pipe spec's database trigger `auto_update_stock_quantity`, written once per backend.

On every INSERT, UPDATE or DELETE of a cut or spare piece, the CUT_ROLL / SPARE stock record it belongs
to gets `quantity` = COUNT of its IN_STOCK pieces (a recount, not ±1: whatever the row did, the record
ends equal to its pieces) and `version` + 1. FULL_ROLL and BUNDLE records are never touched (their
quantity is a number of rolls or bundles, written by the services). The trigger does not touch
`batches.current_quantity` (the stock engine moves it), exactly as the spec says.

A second trigger per table refuses an UPDATE of what is immutable on a piece: its stock record, the
operation that created it, its length / piece count, and its lineage (what it was cut or split from).

Triggers on the piece tables only UPDATE inventory_stock (another table: fine on MariaDB too) and never
block a DELETE, so a test flush of committed data works unchanged.
"""

TABLES = {
    "hdpe_cut_pieces": ("stock_id", "created_by_op_id", "length_meters", "cut_from_piece_id", "cut_from_stock_id"),
    "sprinkler_spare_pieces": ("stock_id", "created_by_op_id", "piece_count", "split_from_stock_id"),
}
IMMUTABLE_MESSAGE = "{table}: the stock record, creating operation, size and lineage of a piece cannot change"

PIECE_STOCK_TYPES = "('CUT_ROLL', 'SPARE')"


def _recount(table: str, where: str) -> str:
    return (
        f"UPDATE inventory_stock SET quantity = (SELECT COUNT(*) FROM {table} p "
        f"WHERE p.stock_id = inventory_stock.id AND p.status = 'IN_STOCK'), version = version + 1 "
        f"WHERE {where} AND stock_type IN {PIECE_STOCK_TYPES}"
    )


WHERE = {"INSERT": "id = NEW.stock_id", "DELETE": "id = OLD.stock_id", "UPDATE": "id IN (OLD.stock_id, NEW.stock_id)"}


def _pg() -> list[str]:
    branches = "\n".join(
        f"""    {"IF" if i == 0 else "ELSIF"} TG_TABLE_NAME = '{table}' THEN
        UPDATE inventory_stock s SET quantity = (SELECT COUNT(*) FROM {table} p
            WHERE p.stock_id = s.id AND p.status = 'IN_STOCK'), version = s.version + 1
        WHERE s.id = ANY(ids) AND s.stock_type IN {PIECE_STOCK_TYPES};"""
        for i, table in enumerate(TABLES)
    )
    out = [
        f"""CREATE OR REPLACE FUNCTION auto_update_stock_quantity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        ids := ARRAY[NEW.stock_id];
    ELSIF TG_OP = 'DELETE' THEN
        ids := ARRAY[OLD.stock_id];
    ELSE
        ids := ARRAY[OLD.stock_id, NEW.stock_id];
    END IF;
{branches}
    END IF;
    RETURN NULL;
END $$"""
    ]
    for table, columns in TABLES.items():
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
        msg = IMMUTABLE_MESSAGE.format(table=table)
        out += [
            f"DROP TRIGGER IF EXISTS {table}_stock_quantity ON {table}",
            f"""CREATE TRIGGER {table}_stock_quantity AFTER INSERT OR UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION auto_update_stock_quantity()""",
            f"""CREATE OR REPLACE FUNCTION {table}_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {changed} THEN
                    RAISE EXCEPTION '{msg}';
                END IF;
                RETURN NEW;
            END $$""",
            f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}",
            f"""CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {table}_immutable()""",
        ]
    return out


def _sqlite() -> list[str]:
    out = []
    for table, columns in TABLES.items():
        for op, where in WHERE.items():
            name = f"{table}_stock_quantity_{op.lower()}"
            out += [
                f"DROP TRIGGER IF EXISTS {name}",
                f"CREATE TRIGGER {name} AFTER {op} ON {table} BEGIN {_recount(table, where)}; END",
            ]
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
        msg = IMMUTABLE_MESSAGE.format(table=table)
        out += [
            f"DROP TRIGGER IF EXISTS {table}_immutable",
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table} WHEN {changed} "
            f"BEGIN SELECT RAISE(ABORT, '{msg}'); END",
        ]
    return out


def _mysql() -> list[str]:
    out = []
    for table, columns in TABLES.items():
        for op, where in WHERE.items():
            name = f"{table}_stock_quantity_{op.lower()}"
            out += [
                f"DROP TRIGGER IF EXISTS {name}",
                f"CREATE TRIGGER {name} AFTER {op} ON {table} FOR EACH ROW {_recount(table, where)}",
            ]
        changed = " OR ".join(f"NOT (NEW.{c} <=> OLD.{c})" for c in columns)
        msg = IMMUTABLE_MESSAGE.format(table=table)
        out += [
            f"DROP TRIGGER IF EXISTS {table}_immutable",
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table} FOR EACH ROW "
            f"IF {changed} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{msg}'; END IF",
        ]
    return out


def install_sql(vendor: str) -> list[str]:
    return {"postgresql": _pg, "sqlite": _sqlite, "mysql": _mysql}[vendor]()


def drop_sql(vendor: str) -> list[str]:
    out = []
    for table in TABLES:
        if vendor == "postgresql":
            out += [
                f"DROP TRIGGER IF EXISTS {table}_stock_quantity ON {table}",
                f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}",
                f"DROP FUNCTION IF EXISTS {table}_immutable()",
            ]
        else:
            out += [f"DROP TRIGGER IF EXISTS {table}_stock_quantity_{op.lower()}" for op in WHERE]
            out.append(f"DROP TRIGGER IF EXISTS {table}_immutable")
    if vendor == "postgresql":
        out.append("DROP FUNCTION IF EXISTS auto_update_stock_quantity()")
    return out


def install(connection) -> None:
    with connection.cursor() as cur:
        for sql in install_sql(connection.vendor):
            cur.execute(sql)


def drop(connection) -> None:
    with connection.cursor() as cur:
        for sql in drop_sql(connection.vendor):
            cur.execute(sql)
