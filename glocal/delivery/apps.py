from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "glocal.delivery"
    label = "delivery"
    verbose_name = "Delivery"

    def ready(self) -> None:
        # Job handlers register on import: the worker must know them without loading the URLs.
        # signals connects anymail's tracking signal (provider webhooks).
        # checks registers the deploy checks of the webhooks' secrets.
        from . import checks, printbatch, signals  # noqa: F401
        from .erasure import register

        register()  # erasure reaches the outbox (audience calls it; it never imports delivery)

        # The campaign simulation's pressure line is delivery's arbitration (campaigns never import it).
        from glocal.campaigns.selectors import PRESSURE_PREVIEW

        from .selectors import pressure_preview

        if pressure_preview not in PRESSURE_PREVIEW:
            PRESSURE_PREVIEW.append(pressure_preview)
