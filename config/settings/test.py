"""Test settings: fast hashing, in-memory SQLite unless DATABASE_URL points at PostgreSQL."""

from .base import *  # noqa: F403
from .base import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": ""}  # shared in-memory database for live-server tests
AXES_ENABLED = True
LANGUAGE_CODE = "en"
# Print renders are not kept from one test to the next (ids and in-memory files are reused between tests).
GLOCAL_PRINT_RENDER_CACHE = False
