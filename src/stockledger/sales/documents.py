"""A printed invoice: the HTML page (Django template) and the PDF (reportlab), from one document dict."""

from io import BytesIO

from django.template.loader import render_to_string
from django.utils import timezone

from .models import Invoice
from .selectors import invoice_document


def invoice_html(invoice: Invoice, request=None) -> str:
    return render_to_string("sales/invoice.html", invoice_document(invoice), request=request)


def invoice_pdf(invoice: Invoice) -> bytes:
    """An A4 PDF of the invoice. reportlab is pure Python; imported here so nothing else needs it."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    doc = invoice_document(invoice)
    inv, trx, customer, depot = doc["invoice"], doc["transaction"], doc["customer"], doc["depot"]
    styles = getSampleStyleSheet()
    buf = BytesIO()
    pdf = SimpleDocTemplate(
        buf,
        pagesize=A4,
        title=f"Invoice {inv.number}",
        author=doc["seller"],
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )
    issued = f"{timezone.localtime(inv.issued_at):%Y-%m-%d %H:%M}"
    story = [
        Paragraph(f"{_esc(doc['seller'])} — Invoice {_esc(inv.number)}", styles["Title"]),
        Paragraph(f"Status: <b>{inv.status}</b> · Issued {issued} · Sale {_esc(trx.number)}", styles["Normal"]),
        Spacer(1, 6 * mm),
        Paragraph(f"<b>Customer</b>: {_esc(customer.name)} {_esc(customer.address)}", styles["Normal"]),
        Paragraph(f"<b>Depot</b>: {_esc(depot.name)} {_esc(depot.address)}", styles["Normal"]),
        Spacer(1, 6 * mm),
    ]
    rows = [["#", "Product", "Kind", "Quantity", "Unit price", "Amount"]]
    rows += [
        [ln["position"], ln["product"], ln["kind"], ln["quantity"], f"{ln['unit_price']}", f"{ln['amount']}"]
        for ln in doc["lines"]
    ]
    rows.append(["", "", "", "", "Total", f"{doc['total_amount']}"])
    table = Table(rows, colWidths=[10 * mm, 55 * mm, 38 * mm, 20 * mm, 25 * mm, 25 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
            ]
        )
    )
    story.append(table)
    if inv.status == Invoice.Status.VOID:
        story += [Spacer(1, 6 * mm), Paragraph(f"VOID: {_esc(inv.void_reason)}", styles["Heading2"])]
    pdf.build(story)
    return buf.getvalue()


def _esc(text) -> str:
    return str(text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
