from django.apps import AppConfig


class CreativesConfig(AppConfig):
    name = "glocal.creatives"
    label = "creatives"
    verbose_name = "Creatives"

    def ready(self) -> None:
        from glocal.creatives.seed import seed_creatives
        from glocal.network.seed import SEED_EXTENSIONS

        if seed_creatives not in SEED_EXTENSIONS:
            SEED_EXTENSIONS.append(seed_creatives)
