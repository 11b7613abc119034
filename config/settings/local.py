"""Local demo and development: the demo runs with DEBUG off (Glocal's own error pages, never Django's
debug pages; WhiteNoise serves the static files); ``DEBUG=1`` turns it on for development. Mail is printed
on the console unless configured."""

import os

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("DEBUG", False)
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
