"""This app's part of `stockledger demo` (idempotent)."""


def load(actor) -> str | None:
    return None
