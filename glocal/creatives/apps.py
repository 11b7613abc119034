from django.apps import AppConfig


class CreativesConfig(AppConfig):
    name = "glocal.creatives"
    label = "creatives"
    verbose_name = "Creatives"
