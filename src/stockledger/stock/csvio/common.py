"""What the CSV imports and exports share: reading a file with line numbers, collecting line errors,
looking catalog rows up by code, the acting user, locking many inventory keys, number formats."""

import csv
import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from stockledger.catalog.models import Customer, Item, Warehouse
from stockledger.core.errors import NotFound, ValidationError
from stockledger.core.roles import authorize

from .. import engine
from ..models import QTY, Inventory

SYSTEM_USER = "system"
IN_CHUNK = 500  # values in one IN (...) list: far below every backend's parameter limit
MAX_QTY = Decimal(10) ** (QTY["max_digits"] - QTY["decimal_places"])

Progress = Callable[..., Iterable]


def no_progress(iterable: Iterable, **kw) -> Iterable:
    return iterable


def chunked(iterable: Iterable, size: int) -> Iterator[list]:
    it = iter(iterable)
    while part := list(itertools.islice(it, size)):
        yield part


# --- errors --------------------------------------------------------------------------------------


@dataclass
class LineErrors:
    """Every bad line with its line number; past `limit` lines only the count grows (memory stays bounded)."""

    limit: int | None = None
    listed: list[tuple[int, list[str]]] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, *problems: str) -> None:
        self.count += 1
        if self.limit is None or len(self.listed) < self.limit:
            self.listed.append((line, list(problems)))

    def raise_if_any(self, name: str) -> None:
        if self.count:
            raise ImportRejected(name, self)


class ImportRejected(ValidationError):
    """The file has bad lines: nothing was imported. extra = {lines: [{line, problems}], bad_lines, listed}."""

    code = "import_rejected"

    def __init__(self, name: str, errors: LineErrors):
        n = errors.count
        super().__init__(
            f"{name}: {n} bad line{'s' if n != 1 else ''}; nothing was imported.",
            extra={
                "lines": [{"line": line, "problems": problems} for line, problems in errors.listed],
                "bad_lines": n,
                "listed": len(errors.listed),
            },
        )


def reject(name: str, line: int, *problems: str) -> ImportRejected:
    errors = LineErrors()
    errors.add(line, *problems)
    return ImportRejected(name, errors)


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """The columns a file may have: `known` (in this order on export), `required` in the header and with a
    value on every line, `export_only` (written by `export`, ignored by `import`)."""

    known: tuple[str, ...]
    required: frozenset[str]
    export_only: tuple[str, ...] = ()

    @property
    def export(self) -> tuple[str, ...]:
        return self.known + self.export_only


class CsvSource:
    """A CSV file read as (line number, {column: stripped value} or None, problem) one record at a time.

    The header is checked first (unknown, duplicate or missing columns reject the file). Line numbers are
    those of the file (the header is line 1; a record spanning lines is reported at its first line).
    `digest` is the sha256 of the text read so far, so a second pass can tell the file did not change.
    """

    def __init__(self, path, columns: Columns):
        self.path = Path(path)
        self.name = self.path.name
        self.columns = columns
        self.digest = ""
        self.count = 0

    def rows(self) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
        h = hashlib.sha256()
        self.count, start = 0, 1  # `start`: the first line of the record being read

        def lines(f):
            for text in f:
                h.update(text.encode())
                yield text

        try:
            with self.path.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(lines(f))
                header = self._header(next(reader, None))
                start = reader.line_num + 1
                for values in reader:
                    line, start = start, reader.line_num + 1
                    if not any(v.strip() for v in values):
                        continue
                    self.count += 1
                    if len(values) != len(header):
                        yield line, None, f"{len(values)} values for {len(header)} columns"
                    else:
                        yield line, {c: v.strip() for c, v in zip(header, values, strict=True)}, None
        except FileNotFoundError:
            raise NotFound(f"No file {self.path}.") from None
        except UnicodeDecodeError:
            raise reject(self.name, start, "the file is not UTF-8 text") from None
        except csv.Error as e:
            raise reject(self.name, start, f"not valid CSV: {e}") from None
        self.digest = h.hexdigest()

    def _header(self, header: list[str] | None) -> list[str]:
        if not header:
            raise reject(self.name, 1, "the file is empty: a header line is required")
        names = [h.strip().lower() for h in header]
        cols = self.columns
        problems = []
        if unknown := [n or "(empty)" for n in names if n not in cols.known and n not in cols.export_only]:
            problems.append(f"unknown column(s): {', '.join(unknown)}; known: {', '.join(cols.known)}")
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"repeated column(s): {', '.join(dupes)}")
        if missing := sorted(cols.required - set(names)):
            problems.append(f"missing column(s): {', '.join(missing)}")
        if problems:
            raise reject(self.name, 1, *problems)
        return names


# --- catalog look-ups ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRef:
    pk: int
    sku: str
    decimals: int
    unit: str
    batch_tracked: bool
    can_expire: bool


class Catalog:
    """Code -> row, for the codes a file names: one query per new IN-chunk, codes matched exactly."""

    def __init__(self):
        self.items: dict[str, ItemRef | None] = {}
        self.warehouses: dict[str, int | None] = {}
        self.customers: dict[str, int | None] = {}

    def load(self, *, skus: Iterable[str] = (), warehouses: Iterable[str] = (), customers: Iterable[str] = ()):
        item_fields = ("pk", "sku", "product_type__unit_decimals", "product_type__base_unit")
        item_fields += ("product_type__batch_tracked", "can_expire")
        self._fill(self.items, skus, lambda c: Item.objects.filter(sku__in=c).values_list(*item_fields), ItemRef)
        self._fill(
            self.warehouses, warehouses, lambda c: Warehouse.objects.filter(code__in=c).values_list("pk", "code")
        )
        self._fill(self.customers, customers, lambda c: Customer.objects.filter(code__in=c).values_list("pk", "code"))

    @staticmethod
    def _fill(cache: dict, codes: Iterable[str], query, make=None) -> None:
        new = sorted({c for c in codes if c and c not in cache})
        for part in chunked(new, IN_CHUNK):
            cache.update(dict.fromkeys(part))
            wanted = set(part)
            for row in query(part):
                if row[1] in wanted:  # exact matches only (MariaDB compares codes case-insensitively)
                    cache[row[1]] = make(*row) if make else row[0]


# --- actor ---------------------------------------------------------------------------------------


def import_actor(username: str | None, *, create: bool = True):
    """The named user, or the system user (created on first use with an unusable password)."""
    User = get_user_model()
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise NotFound(f"No user named {username!r}.")
        return user
    user = User.objects.filter(username=SYSTEM_USER).first()
    if user is None:
        user = User(username=SYSTEM_USER)
        user.set_unusable_password()
        if create:
            user.save()
    return user


def is_system(user) -> bool:
    return user.username == SYSTEM_USER and not user.has_usable_password()


def authorize_import(actor, warehouses: Iterable[int | None] = ()) -> None:
    """Imports need ADMIN or LM (in every warehouse the file names); the system user is trusted."""
    if not is_system(actor):
        authorize(actor, "stock.import", warehouses)


# --- locking -------------------------------------------------------------------------------------


def lock_keys(keys: dict[str, tuple[int, int | None, int | None]]) -> dict[str, Inventory]:
    """Lock (creating the missing ones) the inventory rows of these keys, in pk order.

    Up to IN_CHUNK keys this is engine.lock_inventory; more keys would not fit one IN list, so the
    missing rows are created first and the rows are then locked in ascending pk ranges: still one
    global pk order, so an import and the engine's writers cannot deadlock.
    """
    if len(keys) <= IN_CHUNK:
        return engine.lock_inventory(keys)
    names = sorted(keys)
    pks = []
    for part in chunked(names, IN_CHUNK):
        have = dict(Inventory.objects.filter(key__in=part).values_list("key", "pk"))
        if missing := [k for k in part if k not in have]:
            rows = [
                Inventory(key=k, item_id=keys[k][0], warehouse_id=keys[k][1], holder_id=keys[k][2]) for k in missing
            ]
            Inventory.objects.bulk_create(rows, ignore_conflicts=True)
            have = dict(Inventory.objects.filter(key__in=part).values_list("key", "pk"))
        pks += have.values()
    found = {}
    for part in chunked(sorted(pks), IN_CHUNK):
        found.update({r.key: r for r in Inventory.objects.select_for_update().filter(pk__in=part).order_by("pk")})
    return found


# --- values --------------------------------------------------------------------------------------


def parse_date(value: str, column: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_datetime(value: str, column: str) -> datetime:
    """ISO 8601; a time without offset is in the server's TIME_ZONE. Returned in UTC, as stored."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column}: {value!r} is not an ISO date-time (YYYY-MM-DDTHH:MM[:SS][+HH:MM])") from None
    if timezone.is_naive(dt):
        dt = timezone.make_aware(dt)
    return dt.astimezone(UTC)


def plain(value: Decimal | None) -> str:
    """A quantity as a plain decimal: no exponent, no trailing zeros (12.500 -> 12.5, 10.000 -> 10)."""
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def iso(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


def same_code(vendor: str | None = None) -> Callable[[str], str]:
    """How the database compares batch numbers in its unique key (MariaDB's collation ignores case)."""
    return str.casefold if (vendor or connection.vendor) == "mysql" else str
