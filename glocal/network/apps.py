from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "glocal.network"
    label = "network"
    verbose_name = "Network"

    def ready(self) -> None:
        from glocal.network import importer  # noqa: F401  (registers the import job handler)
