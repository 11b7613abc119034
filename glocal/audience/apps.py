from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "glocal.audience"
    label = "audience"
    verbose_name = "Audience"

    def ready(self) -> None:
        from glocal.network import services

        from . import importer, mappings, retention  # noqa: F401  (job handlers, audit labels)
        from .services import on_entity_move

        if on_entity_move not in services.ENTITY_MOVE_HOOKS:
            services.ENTITY_MOVE_HOOKS.append(on_entity_move)
