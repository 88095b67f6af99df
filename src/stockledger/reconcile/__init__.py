"""Reconcile: the invariant catalogue (DESIGN §1), verify (report drift) and recompute (repair it).

Public API: stockledger.reconcile.services (verify, recompute); other apps register invariants with
stockledger.reconcile.registry.register from their own `invariants` module. See docs/reconcile.md.
"""
