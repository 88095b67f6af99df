"""Screenshots of the main screens for the README: `make screenshots` (python -m tests.web.screenshots).

Builds a throw-away SQLite database under a temporary directory, loads the demo data (`stockledger demo`)
plus a few pipe operations, serves the app on a free local port and photographs each screen with
Playwright and Debian's Chromium, at 1280 px (desktop) and 375 px (phone), into docs/screenshots/.
Nothing outside the temporary directory and docs/screenshots/ is touched.
"""

import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {"desktop": (1280, 800), "phone": (375, 740)}


def setup_django(var_dir: str) -> None:
    os.environ["STOCKLEDGER_VAR_DIR"] = var_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockledger.config.settings")
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()


def load_data() -> dict:
    """The demo data set, then pipe operations from the spec's worked examples; returns ids to visit."""
    import io

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from stockledger.pieces import services as pipes
    from stockledger.pieces.models import Operation
    from stockledger.reconcile.models import RecomputeRun
    from stockledger.reconcile.services import recompute
    from stockledger.relief.models import ReliefPackage
    from stockledger.sales.models import Invoice
    from tests import factories as f
    from tests.web.builders import bundles, cuts, hdpe, produce, record, rolls, spares, sprinkler

    call_command("migrate", verbosity=0, interactive=False)
    call_command("demo", stdout=io.StringIO())
    admin = get_user_model().objects.get(username="admin")
    if not Operation.objects.filter(kind=Operation.Kind.PRODUCTION).exists():
        pipe, spr = hdpe(admin), sprinkler(admin)
        p = produce(admin, pipe, rolls(5, 500), batch_no="123")
        pipes.stock_cut(
            actor=admin, stock_id=record(p["batch_id"], "FULL_ROLL").pk, piece1_length=200, piece2_length=300
        )
        produce(admin, pipe, cuts(200, 150, 150), batch_no="124")
        produce(admin, spr, bundles(3, 50), spares(25), batch_no="456")
        buyer = f.customer(name="Agro Supplies")
        full = record(p["batch_id"], "FULL_ROLL")
        pipes.dispatch_create(actor=admin, customer_id=buyer.pk, lines=[{"stock_id": full.pk, "quantity": 1}])
    if not RecomputeRun.objects.exists():
        recompute(dry_run=True, actor=admin)
    pipe_batch = Operation.objects.filter(kind=Operation.Kind.PRODUCTION).order_by("pk").first()
    batch_id = pipe_batch.lines.first().batch_id
    pkg = ReliefPackage.objects.filter(status__in=ReliefPackage.OPEN).order_by("pk").first()
    return {
        "batch": batch_id,
        "package": pkg.pk if pkg else None,
        "invoice": Invoice.objects.order_by("pk").values_list("pk", flat=True).first(),
        "run": RecomputeRun.objects.order_by("-pk").values_list("pk", flat=True).first(),
    }


def serve() -> tuple[str, object]:
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def shots(ids: dict) -> list[tuple[str, str, str]]:
    """(file stem, demo user, path)."""
    out = [
        ("01-dashboard-manager", "manager", "/"),
        ("02-inventory", "clerk", "/inventory/?product_type=hdpe"),
        ("03-batch-pipe-detail", "clerk", f"/batches/{ids['batch']}/"),
        ("04-production-form", "clerk", "/pipes/production/"),
        ("05-dispatch-selection", "clerk", "/pipes/dispatch/"),
        ("07-approval-queue", "manager", "/relief/approvals/"),
        ("08-depot-sale-form", "sales", "/depot/sales/new/"),
        ("10-reconcile", "manager", "/reconcile/"),
        ("11-audit", "manager", "/audit/"),
    ]
    if ids.get("package"):
        out.append(("06-relief-package-drawer", "officer", f"/relief/packages/{ids['package']}/"))
    if ids.get("invoice"):
        out.append(("09-invoice", "sales", f"/depot/invoices/{ids['invoice']}/"))
    if ids.get("run"):
        out.append(("10-reconcile-run", "manager", f"/reconcile/runs/{ids['run']}/"))
    return sorted(out)


def main() -> int:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="stockledger-shots-") as var_dir:
        setup_django(var_dir)
        from stockledger.core.management.commands.demo import demo_password

        ids = load_data()
        base, server = serve()
        OUT.mkdir(parents=True, exist_ok=True)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                sessions = {}
                for stem, username, path in shots(ids):
                    if username not in sessions:
                        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
                        page = ctx.new_page()
                        page.goto(f"{base}/login/")
                        page.fill("input[name=username]", username)
                        page.fill("input[name=password]", demo_password(username))
                        page.click("button[type=submit]")
                        page.wait_for_url(f"{base}/")
                        sessions[username] = page
                    page = sessions[username]
                    for label, (width, height) in WIDTHS.items():
                        page.set_viewport_size({"width": width, "height": height})
                        page.goto(base + path)
                        if stem == "05-dispatch-selection":
                            page.locator("select[name=customer]").select_option(index=1)
                            page.locator("input[name^=take-]").first.fill("1")
                            page.get_by_role("button", name="Review dispatch").click()
                            page.wait_for_selector("#review-title")
                        if stem == "10-reconcile":
                            page.get_by_role("button", name="Run verify").click()
                            page.wait_for_selector("#verify-title")
                        target = OUT / f"{stem}-{label}.png"
                        page.screenshot(path=str(target), full_page=True)
                        print(f"wrote {target.relative_to(ROOT)}")
                page = browser.new_page(viewport={"width": 375, "height": 740})
                page.goto(f"{base}/login/")
                page.screenshot(path=str(OUT / "00-login-phone.png"), full_page=True)
                print(f"wrote {(OUT / '00-login-phone.png').relative_to(ROOT)}")
                browser.close()
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
