"""Settings shared by every environment.

Everything that differs between machines comes from the environment:
``DATABASE_URL`` (default: SQLite in ``GLOCAL_DATA_DIR``), ``CELERY_BROKER_URL`` (default: none, the
embedded database-backed worker), ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``EMAIL_URL``-style settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from glocal.core.observability import init_sentry, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(os.environ.get("GLOCAL_DATA_DIR", BASE_DIR / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# The development key, refused by production settings (config/settings/production.py).
DEVELOPMENT_SECRET_KEY = "glocal-insecure-development-key-change-me-0123456789"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "glocal.core",
    "glocal.accounts",
    "glocal.network",
    "glocal.creatives",
    "glocal.delivery",
    "glocal.audience",
    "glocal.campaigns",
    "glocal.targeting",
    "glocal.brand",
    "glocal.reporting",  # results: rollups, attribution, dashboards (read side, below web)
    "glocal.web",  # the pages shell (home pages): above every business app
    "glocal.demo",  # the demo network (`glocal seed`): the top layer, last
]

MIDDLEWARE = [
    "glocal.core.request_id.RequestIdMiddleware",  # X-Request-ID on the response and on every log line
    "glocal.core.metrics.MetricsMiddleware",  # the request latency histogram (/metrics)
    "django.middleware.security.SecurityMiddleware",
    "glocal.core.middleware.SecurityHeadersMiddleware",  # Content-Security-Policy, Permissions-Policy
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "glocal.core.middleware.ScopeMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "glocal.core.context_processors.scope",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
SQLITE_PATH = Path(os.environ.get("GLOCAL_SQLITE_PATH", DATA_DIR / "glocal.sqlite3"))
SQLITE_OPTIONS = {
    # WAL lets the web process read while the embedded worker writes; IMMEDIATE avoids the
    # "database is locked" upgrade deadlock between two writers.
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
        "PRAGMA busy_timeout=20000; PRAGMA cache_size=-64000;"
    ),
}
# PostgreSQL connections are kept DATABASE_CONN_MAX_AGE seconds (0: one per request) and checked before reuse.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ["DATABASE_URL"],
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
    if os.environ.get("DATABASE_URL")
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(SQLITE_PATH), "OPTIONS": SQLITE_OPTIONS}
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (shared by every process: the public forms' single-use stamps and rate limits) -------------
# Redis when REDIS_URL or CACHE_URL names one (redis://, rediss://, unix://), else the database's own
# table (created by the targeting migration 0004 / createcachetable): never a per-process memory cache.
CACHE_URL = os.environ.get("REDIS_URL") or os.environ.get("CACHE_URL", "")
CACHES: dict[str, dict[str, object]]
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "glocal_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# --- Auth -----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24

# --- Login limits and the client's address (hardening) ----------------------------------------------
# Rate-limited login (django-axes): 5 failures for one username from one address lock it for 15 min;
# 20 failures from one address, whatever the usernames (password spraying), lock the address.
AXES_HANDLER = "glocal.accounts.lockout.LoginLockHandler"
GLOCAL_LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("GLOCAL_LOGIN_FAILURES_PER_ADDRESS", "20"))
# The client's address: REMOTE_ADDR unless reverse proxies are declared (glocal/accounts/client_ip.py):
# GLOCAL_TRUSTED_PROXY_COUNT=1 (one proxy in front), or GLOCAL_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.1.
AXES_CLIENT_IP_CALLABLE = "glocal.accounts.client_ip.client_ip"
GLOCAL_TRUSTED_PROXY_COUNT = int(os.environ.get("GLOCAL_TRUSTED_PROXY_COUNT", "0"))
GLOCAL_TRUSTED_PROXIES = [
    p.strip() for p in os.environ.get("GLOCAL_TRUSTED_PROXIES", "").split(",") if p.strip()
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# The Django admin (operators only) on its own path, not the well-known /admin/ (docs/security.md).
GLOCAL_ADMIN_PATH = (os.environ.get("GLOCAL_ADMIN_PATH", "ops").strip("/") or "ops") + "/"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# --- Security headers and cookies (hardening) -----------------------------------------------------
# Content-Security-Policy and Permissions-Policy: glocal.core.middleware.SecurityHeadersMiddleware.
# The language cookie (set at login and by the language switch) is read by the server only.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- I18N -----------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "glocal" / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# --- Files ----------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("GLOCAL_STATIC_ROOT", DATA_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"  # never served as is: media are read through default_storage by the app's views
MEDIA_ROOT = Path(os.environ.get("GLOCAL_MEDIA_ROOT", DATA_DIR / "media"))
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Media on S3-compatible storage (AWS, MinIO, Scaleway, OVH…) when a bucket is named (django-storages).
GLOCAL_MEDIA_S3_BUCKET = os.environ.get("GLOCAL_MEDIA_S3_BUCKET", "")
if GLOCAL_MEDIA_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": GLOCAL_MEDIA_S3_BUCKET,
            "endpoint_url": os.environ.get("GLOCAL_MEDIA_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("GLOCAL_MEDIA_S3_REGION") or None,
            "access_key": os.environ.get("GLOCAL_MEDIA_S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("GLOCAL_MEDIA_S3_SECRET_ACCESS_KEY") or None,
            "location": os.environ.get("GLOCAL_MEDIA_S3_PREFIX", ""),
            "addressing_style": os.environ.get("GLOCAL_MEDIA_S3_ADDRESSING_STYLE") or None,
            "default_acl": "private",  # private objects, short-lived signed URLs
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
WHITENOISE_USE_FINDERS = True
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Email ----------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", "root@localhost")  # the sender of error reports
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Glocal <no-reply@glocal.localhost>")

# --- Background work ------------------------------------------------------------------------------
# No broker: jobs wait in the database and the embedded worker (``glocal worker``, or the thread that
# ``glocal serve`` starts) claims them. With a broker, Celery workers run them.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
# Separate queues (docs/scaling.md): with GLOCAL_CELERY_QUEUES on, the beat's delivery tick (it launches due
# campaigns) goes to "launch", the senders to "send", background jobs and the rollups to "jobs"; run one
# worker per queue (``celery worker --queues launch`` …). Off (default): everything on Celery's "celery".
CELERY_TASK_ROUTES: dict[str, dict[str, str]] = (
    {
        "glocal.delivery.tasks.delivery_tick": {"queue": "launch"},
        "glocal.delivery.tasks.send_batch": {"queue": "send"},
        "glocal.core.tasks.run_job_task": {"queue": "jobs"},
        "glocal.reporting.tasks.rollup_tick": {"queue": "jobs"},
    }
    if env_bool("GLOCAL_CELERY_QUEUES", False)
    else {}
)
GLOCAL_WORKER_HEARTBEAT_SECONDS = int(os.environ.get("GLOCAL_WORKER_HEARTBEAT_SECONDS", "15"))

# --- Delivery (docs/delivery.md) --------------------------------------------------------------------
# Campaign email goes to GLOCAL_SMTP_HOST:PORT (default: EMAIL_HOST:PORT), or through a provider API
# with GLOCAL_EMAIL_PROVIDER = an Anymail backend ("anymail.backends.postmark.EmailBackend" + ANYMAIL).
GLOCAL_SMTP_HOST = os.environ.get("GLOCAL_SMTP_HOST", "")
GLOCAL_SMTP_PORT = os.environ.get("GLOCAL_SMTP_PORT", "")
GLOCAL_SMTP_RATE = float(os.environ.get("GLOCAL_SMTP_RATE", "0"))  # messages/s per account, 0: no limit
GLOCAL_EMAIL_PROVIDER = os.environ.get("GLOCAL_EMAIL_PROVIDER", "")
ANYMAIL: dict[str, str] = {
    k.removeprefix("ANYMAIL_"): v for k, v in os.environ.items() if k.startswith("ANYMAIL_")
}
GLOCAL_SENDER_DOMAIN = os.environ.get("GLOCAL_SENDER_DOMAIN", "glocal.localhost")
GLOCAL_DKIM_KEY_FILE = os.environ.get("GLOCAL_DKIM_KEY_FILE", "")
GLOCAL_DKIM_DOMAIN = os.environ.get("GLOCAL_DKIM_DOMAIN", "")
GLOCAL_DKIM_SELECTOR = os.environ.get("GLOCAL_DKIM_SELECTOR", "glocal")
# SMS: "capture" (kept on the message, the demo's), "json" (generic JSON gateway) or "twilio".
GLOCAL_SMS_PROVIDER = os.environ.get("GLOCAL_SMS_PROVIDER", "capture")
GLOCAL_SMS_URL = os.environ.get("GLOCAL_SMS_URL", "")
GLOCAL_SMS_TOKEN = os.environ.get("GLOCAL_SMS_TOKEN", "")
GLOCAL_SMS_FROM = os.environ.get("GLOCAL_SMS_FROM", "GLOCAL")
GLOCAL_SMS_RATE = float(os.environ.get("GLOCAL_SMS_RATE", "0"))
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_API_URL = os.environ.get("TWILIO_API_URL", "https://api.twilio.com")
# Webhook secrets (an empty one refuses every call): bearer tokens of the JSON SMS hooks and of the bounce
# hook; Anymail's basic auth comes from ANYMAIL_WEBHOOK_SECRET ("user:password", in ANYMAIL above).
GLOCAL_SMS_WEBHOOK_TOKEN = os.environ.get("GLOCAL_SMS_WEBHOOK_TOKEN", "")
GLOCAL_BOUNCE_WEBHOOK_TOKEN = os.environ.get("GLOCAL_BOUNCE_WEBHOOK_TOKEN", "")
GLOCAL_DELIVERY_TASKS = int(os.environ.get("GLOCAL_DELIVERY_TASKS", "8"))  # concurrent Celery senders
CELERY_BEAT_SCHEDULE = {
    "delivery-tick": {"task": "glocal.delivery.tasks.delivery_tick", "schedule": 5.0},
    "reporting-rollup": {"task": "glocal.reporting.tasks.rollup_tick", "schedule": 60.0},
}
GLOCAL_DELIVERY_THREADS = int(os.environ.get("GLOCAL_DELIVERY_THREADS", "4"))
# Temporary failures come back after base × 2^(n-1) (capped at 4 h, given up after 3 days); an unknown
# outcome (connection lost after the final ".") after GLOCAL_UNKNOWN_RETRY_SECONDS.
GLOCAL_RETRY_BASE_SECONDS = int(os.environ.get("GLOCAL_RETRY_BASE_SECONDS", "300"))
GLOCAL_UNKNOWN_RETRY_SECONDS = int(os.environ.get("GLOCAL_UNKNOWN_RETRY_SECONDS", "120"))
GLOCAL_DELIVERY_LEASE_SECONDS = int(os.environ.get("GLOCAL_DELIVERY_LEASE_SECONDS", "3600"))
# Group commit of the "sent" marks (embedded worker): committed together every GLOCAL_SENT_COMMIT_MS or every
# GLOCAL_SENT_COMMIT_MAX messages; a crash re-sends at most that many (+1 per thread). 1 = one commit each.
GLOCAL_SENT_COMMIT_MS = int(os.environ.get("GLOCAL_SENT_COMMIT_MS", "20"))
GLOCAL_SENT_COMMIT_MAX = int(os.environ.get("GLOCAL_SENT_COMMIT_MAX", "50"))
# Where the demo's capture SMTP server keeps what it received (the "sent messages" page reads it).
GLOCAL_MAILBOX_DIR = Path(os.environ.get("GLOCAL_MAILBOX_DIR", DATA_DIR / "mailbox"))

# --- Glocal ---------------------------------------------------------------------------------------
GLOCAL_PUBLIC_URL = os.environ.get("GLOCAL_PUBLIC_URL", "http://127.0.0.1:8000")
GLOCAL_INVITATION_DAYS = 14
# Public lead forms: a stamp is valid this long after rendering (single use); confirmation messages
# (email link, SMS code) per address per day and per client address per hour.
GLOCAL_LEAD_STAMP_MAX_AGE = int(os.environ.get("GLOCAL_LEAD_STAMP_MAX_AGE", "7200"))
GLOCAL_LEAD_SENDS_PER_ADDRESS = int(os.environ.get("GLOCAL_LEAD_SENDS_PER_ADDRESS", "3"))
GLOCAL_LEAD_SENDS_PER_IP = int(os.environ.get("GLOCAL_LEAD_SENDS_PER_IP", "30"))

# --- Operations (docs/operations.md) ---------------------------------------------------------------
# Logs on the console, as text (the default) or JSON lines (GLOCAL_LOG_FORMAT=json), each with the
# request id (X-Request-ID) or the background job id.
GLOCAL_LOG_FORMAT = os.environ.get("GLOCAL_LOG_FORMAT", "text")
LOGGING = logging_config(GLOCAL_LOG_FORMAT, os.environ.get("LOG_LEVEL", "INFO"))
# /metrics answers Prometheus with "Authorization: Bearer <this token>"; no token: no endpoint (404).
# Several gunicorn processes: PROMETHEUS_MULTIPROC_DIR (read by prometheus_client itself).
GLOCAL_METRICS_TOKEN = os.environ.get("GLOCAL_METRICS_TOKEN", "")
# The probes answer over plain HTTP too (a load balancer's health check behind the TLS proxy).
SECURE_REDIRECT_EXEMPT = [r"^livez$", r"^readyz$", r"^healthz$"]
# Errors to Sentry when SENTRY_DSN is set and sentry-sdk is installed (not a dependency).
init_sentry(
    os.environ.get("SENTRY_DSN", ""),
    environment=os.environ.get("SENTRY_ENVIRONMENT", ""),
    release=os.environ.get("SENTRY_RELEASE", ""),
)
