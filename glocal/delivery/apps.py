from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "glocal.delivery"
    label = "delivery"
    verbose_name = "Delivery"

    def ready(self) -> None:
        # Job handlers register on import: the worker must know them without loading the URLs.
        # signals connects anymail's tracking signal (provider webhooks).
        from . import printbatch, signals  # noqa: F401
