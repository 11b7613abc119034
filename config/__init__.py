# The Celery app is created with Django so that tasks bind to it (used only with a broker).
from .celery import app as celery_app

__all__ = ["celery_app"]
