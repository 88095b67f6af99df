from django.apps import AppConfig


class PiecesConfig(AppConfig):
    name = "stockledger.pieces"
    label = "pieces"
