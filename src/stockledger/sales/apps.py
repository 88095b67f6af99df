from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "stockledger.sales"
    label = "sales"
