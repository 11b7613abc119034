from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo network (``glocal seed``, ``glocal demo``): the top layer, it may use every app and no
    app uses it. Nothing is registered at start-up: ``glocal.demo.seed`` calls each app's services."""

    name = "glocal.demo"
    label = "demo"
    verbose_name = "Demo"
