from django.apps import AppConfig


class TargetingConfig(AppConfig):
    """Lead capture (kiosk, embeddable form, double opt-in), guarded segments, external prospect lists."""

    name = "glocal.targeting"
    label = "targeting"
    verbose_name = "Targeting"

    def ready(self) -> None:
        from . import prospects  # noqa: F401  (registers the purge job handler)
        from .sources import register

        register()  # segments and rented lists as campaign audiences (campaigns never import targeting)
