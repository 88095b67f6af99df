"""The printable waybill of a dispatched relief package: one context, rendered as HTML or PDF."""

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from django.template.loader import render_to_string
from django.utils import timezone

from stockledger.core.errors import Conflict, DomainError
from stockledger.stock.validation import item_units

from . import selectors
from .models import ReliefPackage


class PdfUnavailable(DomainError):
    status = 503
    code = "pdf_unavailable"
    default_message = "PDF output is not installed on this server (reportlab); use the HTML waybill."


def _when(value) -> str:
    if not value:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _qty(value, decimals: int) -> str:
    """A quantity with exactly the decimals its unit allows (the stored column has three)."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-decimals)))


def waybill_context(package_id: int) -> dict:
    pkg = selectors.package_detail(package_id)
    if pkg["status"] not in ReliefPackage.SENT:
        raise Conflict(
            f"A waybill is printed for a dispatched package; this one is {pkg['status_label'].lower()}.",
            code="not_dispatched",
        )
    origins = {}
    for line in pkg["allocations"]:
        origins.setdefault(line["warehouse_id"], line["warehouse_name"])
    signatures = [
        ("Prepared by", pkg["prepared_by"], _when(pkg["prepared_at"])),
        ("Approved by", pkg["approved_by"], _when(pkg["approved_at"])),
        ("Dispatched by", pkg["dispatched_by"], _when(pkg["dispatched_at"])),
        ("Handed over by", pkg["handed_over_by"], _when(pkg["handed_over_at"])),
        ("Received by", pkg["received_by"], _when(pkg["received_at"])),
    ]
    decimals = {pk: dec for pk, (dec, *_) in item_units({ln["item_id"] for ln in pkg["allocations"]}).items()}
    return {
        "pkg": pkg,
        "origins": list(origins.values()),
        "lines": [
            {
                **line,
                "expiry": line["expiry_date"].isoformat() if line["expiry_date"] else "—",
                "quantity": _qty(line["qty"], decimals.get(line["item_id"], 3)),
            }
            for line in pkg["allocations"]
        ],
        "people": [{"label": label, "who": who or "", "when": when} for label, who, when in signatures],
        "printed_at": _when(timezone.now()),
    }


def waybill_html(package_id: int) -> str:
    return render_to_string("relief/waybill.html", waybill_context(package_id))


def waybill_pdf(package_id: int) -> bytes:
    """The same waybill as a PDF (ReportLab, pure Python)."""
    try:
        from reportlab.lib import colors
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.styles import getSampleStyleSheet
        from reportlab.lib.units import mm
        from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    except ImportError:  # a deployment without the dependency: say so instead of a bare 500
        raise PdfUnavailable() from None

    ctx = waybill_context(package_id)
    pkg = ctx["pkg"]
    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["Normal"]

    def para(text, style=body):
        return Paragraph(escape(str(text)), style)

    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    story = [
        Paragraph(f"Waybill {escape(pkg['tracking_no'])}", styles["Title"]),
        para(f"Relief request #{pkg['request_id']}: {pkg['event']} (urgency {pkg['urgency']})"),
        para(f"Agency: {pkg['agency_name']}"),
        para(f"From: {', '.join(ctx['origins'])}"),
        para(f"To: {pkg['destination']}"),
        para(f"Status: {pkg['status_label']}"),
        Spacer(1, 4 * mm),
    ]
    rows = [["Item", "Batch", "Expiry", "Quantity", "Unit", "From"]]
    rows += [
        [
            para(ln["item_name"], small),
            para(ln["batch_no"], small),
            ln["expiry"],
            ln["quantity"],
            ln["unit"],
            para(ln["warehouse_name"], small),
        ]
        for ln in ctx["lines"]
    ]
    widths = [48 * mm, 24 * mm, 22 * mm, 20 * mm, 14 * mm, 42 * mm]
    lines = Table(rows, repeatRows=1, colWidths=widths, hAlign="LEFT")
    lines.setStyle(grid)
    story += [lines, Spacer(1, 4 * mm)]
    if pkg["override"]["flagged"]:
        story += [para(f"Allocation-order override: {pkg['override']['reason']}"), Spacer(1, 4 * mm)]
    people = Table(
        [["", "Name", "Time"]] + [[p["label"], p["who"], p["when"]] for p in ctx["people"]],
        colWidths=[40 * mm, 60 * mm, 40 * mm],
        hAlign="LEFT",
    )
    people.setStyle(grid)
    story += [people, Spacer(1, 10 * mm)]
    sign = Table(
        [
            ["Handover — signature:", "_" * 30, "Date:", "_" * 14],
            ["Receipt — signature:", "_" * 30, "Date:", "_" * 14],
        ],
        colWidths=[40 * mm, 70 * mm, 15 * mm, 40 * mm],
        rowHeights=[12 * mm, 12 * mm],
        hAlign="LEFT",
    )
    story += [sign, para(f"Printed {ctx['printed_at']}", small)]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, title=f"Waybill {pkg['tracking_no']}", leftMargin=20 * mm, rightMargin=20 * mm
    )
    doc.build(story)
    return out.getvalue()
