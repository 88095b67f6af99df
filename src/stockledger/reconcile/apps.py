from django.apps import AppConfig


class ReconcileConfig(AppConfig):
    name = "stockledger.reconcile"
    label = "reconcile"
