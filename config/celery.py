"""Celery application, used only when CELERY_BROKER_URL is set (Redis or RabbitMQ)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("glocal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
