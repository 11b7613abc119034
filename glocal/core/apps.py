from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "glocal.core"
    label = "core"
    verbose_name = "Glocal core"

    def ready(self) -> None:
        from . import activity, checks

        checks.register()
        activity.autodiscover()  # each app's activity module: its actions' wording in the feed
