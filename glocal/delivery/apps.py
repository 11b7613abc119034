from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "glocal.delivery"
    label = "delivery"
    verbose_name = "Delivery"
