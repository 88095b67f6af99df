from django.apps import AppConfig


class ReliefConfig(AppConfig):
    name = "stockledger.relief"
    label = "relief"
