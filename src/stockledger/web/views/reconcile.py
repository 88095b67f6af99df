"""Reconcile screens: run verify and see the drift, run recompute (a dry run first, then for real), and the
history of runs with each run's audit rows (the audit log filtered by the run's job id)."""

from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from stockledger.core.errors import DomainError
from stockledger.core.models import AuditLog
from stockledger.reconcile import registry
from stockledger.reconcile.models import RecomputeRun
from stockledger.reconcile.services import recompute, verify

from .common import FormError, done, paginate, render_form, role_required

MAX_DRIFT_ROWS = 200


def _scope(request) -> list[str] | None:
    chosen = [s for s in request.POST.getlist("scope") if s]
    return chosen or None


def _context(request, **extra) -> dict:
    page, query = paginate(request, RecomputeRun.objects.order_by("-pk"), 20)
    invariants = [(inv.id, inv.description) for inv in registry.all_invariants()]
    chosen = request.POST.getlist("scope")
    ctx = {
        "page": page,
        "query": query,
        "invariants": invariants,
        "chosen": chosen,
        "reload_url": reverse("web:reconcile"),
    }
    return {**ctx, **extra}


@role_required("reconcile.run")
def reconcile_home(request):
    return render_form(request, "web/reconcile/home.html", _context(request))


@require_POST
@role_required("reconcile.run")
def run_verify(request):
    """Verify (reads only): every drift row, shown in place (an htmx partial, or the whole page)."""
    try:
        report = verify(_scope(request))
    except DomainError as err:
        return render_form(request, "web/reconcile/home.html", _context(request), FormError.of(err))
    drift = [d.as_dict() for d in report.drift]
    ctx = {
        "report": report,
        "drift": drift[:MAX_DRIFT_ROWS],
        "drift_total": len(drift),
        "checked": sorted(report.checked.items()),
        "max_rows": MAX_DRIFT_ROWS,
    }
    if request.htmx:
        return render(request, "web/reconcile/partials/verify_result.html", ctx)
    return render_form(request, "web/reconcile/home.html", _context(request, **ctx))


@require_POST
@role_required("reconcile.run")
def run_recompute(request):
    """Recompute: a dry run (what would change) unless the form says "for real"."""
    dry_run = request.POST.get("mode") != "apply"
    try:
        run = recompute(dry_run=dry_run, scope=_scope(request), actor=request.user)
    except DomainError as err:
        return render_form(request, "web/reconcile/home.html", _context(request), FormError.of(err))
    if dry_run:
        message = (
            f"Dry run #{run.pk}: {run.summary.get('would_change_rows', 0)} row(s) would change; nothing was written."
        )
    else:
        message = f"Recompute #{run.pk}: {run.rows_changed} row(s) repaired."
    return done(request, message, reverse("web:reconcile-run", args=[run.pk]))


@role_required("reconcile.run")
def run_detail(request, pk: int):
    run = get_object_or_404(RecomputeRun, pk=pk)
    audit = AuditLog.objects.filter(job_id=run.job_id).order_by("-pk")
    page, query = paginate(request, audit, 50)
    summary = run.summary or {}
    per = sorted((summary.get("invariants") or {}).items())
    ctx = {
        "run": run,
        "per": per,
        "planned": summary.get("planned", []),
        "skipped": summary.get("skipped", []),
        "page": page,
        "query": query,
        "scope": run.scope,
    }
    return render_form(request, "web/reconcile/run.html", ctx)
