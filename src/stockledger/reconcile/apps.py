from django.apps import AppConfig


class ReconcileConfig(AppConfig):
    name = "stockledger.reconcile"
    label = "reconcile"
    verbose_name = "Reconcile (verify / recompute)"

    def ready(self):
        from django.utils.module_loading import autodiscover_modules

        from . import invariants  # noqa: F401 - registers I1–I4, I8

        # Every other app's `invariants` module registers its own (pipes: I5, I6; sales: I7).
        autodiscover_modules("invariants")
