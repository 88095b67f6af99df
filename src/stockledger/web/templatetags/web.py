"""Template filters of the web app: quantities as people read them, and field errors of a form row."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def qty(value, grouping: bool = True) -> str:
    """Decimal('2500.000') → '2,500'; Decimal('150.500') → '150.5'; never '2.5E+3' nor '-0'."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    text = format(number, ",f" if grouping else "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@register.filter
def plain(value) -> str:
    """A quantity for an input's value: no grouping ('2500', '150.5')."""
    return qty(value, grouping=False)


@register.filter
def errors_for(error, prefix) -> list[str]:
    """The field errors of a FormError whose field name is `prefix` or starts with `prefix.`."""
    if not error:
        return []
    return error.for_prefix(str(prefix))


@register.filter
def get(mapping, key):
    """mapping[key] in a template (dict lookups by a variable key)."""
    if mapping is None:
        return None
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.simple_tag
def concat(*parts) -> str:
    return "".join(str(p) for p in parts)


@register.filter
def doc_url(entry) -> str:
    """The page of the document a ledger entry belongs to, when the web app has one ("" otherwise)."""
    from django.urls import reverse  # noqa: PLC0415

    doc_type, doc_id = getattr(entry, "doc_type", ""), str(getattr(entry, "doc_id", ""))
    if not doc_id.isdigit():
        return ""
    if doc_type.startswith("pipe_"):
        return reverse("web:pipe-operation", args=[int(doc_id)])
    if doc_type == "relief_package":
        return reverse("web:relief-package", args=[int(doc_id)])
    return ""


@register.filter(name="can")
def can_do(user, action: str) -> bool:
    """{% if user|can:"pipes.operate" %}: whether the user's role allows the action (core.roles)."""
    from stockledger.core.roles import can  # noqa: PLC0415

    return can(user, action)
