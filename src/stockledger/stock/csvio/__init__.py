"""CSV import and export of stock (docs/import-export.md); the `import` / `export` commands call these.

- batches_import: opening balances, one new batch per line, through the engine's receive();
- ledger_import: postings of non-batched items, streamed, bulk-inserted and hash-chained per key;
- csv_export: batches, inventory rows or the ledger, streamed, in the columns the imports read.
"""

from .batches import BATCH_COLUMNS, batches_import
from .common import SYSTEM_USER, ImportRejected, import_actor
from .export import INVENTORY_COLUMNS, KINDS, csv_export
from .ledger import LEDGER_COLUMNS, ledger_import

__all__ = [
    "BATCH_COLUMNS",
    "INVENTORY_COLUMNS",
    "KINDS",
    "LEDGER_COLUMNS",
    "SYSTEM_USER",
    "ImportRejected",
    "batches_import",
    "csv_export",
    "import_actor",
    "ledger_import",
]
