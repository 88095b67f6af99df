from django.apps import AppConfig


class StockConfig(AppConfig):
    name = "stockledger.stock"
    label = "stock"
