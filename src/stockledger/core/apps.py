from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "stockledger.core"
    label = "core"
