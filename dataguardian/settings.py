"""DataGuardian settings, read from the environment (django-environ).

Every variable is documented in docs/CONFIGURATION.md with its default. A bad value raises
ImproperlyConfigured at start rather than misbehaving later. Secrets may also be given as
``NAME_FILE`` pointing at a file (Docker/Kubernetes secrets).

With neither DATABASE_URL nor REDIS_URL set, DataGuardian runs in its *embedded* mode: SQLite
(WAL) and a file-system Celery broker inside the data directory, so a machine with only Python
can run it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from dataguardian.locations import default_data_dir

# Lets generic classes such as ``admin.ModelAdmin[Model]`` be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read ``name`` from the environment, or the file named by ``name_FILE``."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points at an unreadable file: {exc}") from exc
    value = os.environ.get(name)
    return value if value is not None else default


def _read_private_file(path: Path) -> str:
    """The content of a generated key file, or "" when it does not exist yet: importing the
    settings writes nothing; ``dataguardian.datadir.prepare`` creates the file at start-up."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ImproperlyConfigured(f"{path} cannot be read: {exc}") from exc


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """A boolean variable; anything but true/false/yes/no/on/off/1/0 is an error."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


# Created (with the generated key files and the embedded broker's folders) when Django starts,
# by dataguardian.datadir.prepare, never by importing this module.
DATA_DIR = Path(env.str("DATAGUARDIAN_DATA_DIR", default=str(default_data_dir()))).resolve()

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY_FILE = DATA_DIR / "secret_key"
SECRET_KEY_FROM_ENV = bool(env_secret("SECRET_KEY"))
SECRET_KEY = env_secret("SECRET_KEY") or _read_private_file(SECRET_KEY_FILE)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
USE_X_FORWARDED_PROTO = env_bool("USE_X_FORWARDED_PROTO", default=False)
if USE_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Encryption of connection secrets ------------------------------------------------------
# A key of its own, never SECRET_KEY. Several keys (comma separated) allow rotation: the first
# encrypts, all decrypt; `manage.py rotate_encryption_key` re-encrypts stored rows.
ENCRYPTION_KEY_FILE = DATA_DIR / "encryption.key"
_keys_value = env_secret("DATAGUARDIAN_ENCRYPTION_KEYS")
ENCRYPTION_KEYS_FROM_ENV = bool(_keys_value)
if _keys_value:
    ENCRYPTION_KEYS = [k.strip() for k in _keys_value.split(",") if k.strip()]
else:
    _generated = _read_private_file(ENCRYPTION_KEY_FILE)
    ENCRYPTION_KEYS = [_generated] if _generated else []
for _key in ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError as exc:
        raise ImproperlyConfigured(
            "DATAGUARDIAN_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)"
        ) from exc

INSTALLED_APPS = [
    # The admin's theme: before django.contrib.admin, whose templates it replaces.
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "core",
    "dataguardian",
    "datasources",
    "storage",
    "jobs",
    "executions",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dataguardian.urls"
WSGI_APPLICATION = "dataguardian.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Listed here, not only found as the dataguardian app's templates: its admin overrides
        # must win over django.contrib.admin, which comes first in INSTALLED_APPS.
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Admin theme (django-unfold) -----------------------------------------------------------
UNFOLD: dict[str, Any] = {
    "SITE_TITLE": "DataGuardian",
    "SITE_HEADER": "DataGuardian",
    "SITE_SUBHEADER": "Backups you can restore",
    "SITE_URL": "/",
    "SITE_SYMBOL": "shield",
    "SITE_FAVICONS": [
        {"rel": "icon", "type": "image/svg+xml", "href": "dataguardian.navigation.favicon"}
    ],
    "SHOW_VIEW_ON_SITE": False,
    "SHOW_HISTORY": True,
    "SIDEBAR": "dataguardian.navigation.sidebar",
    "DASHBOARD_CALLBACK": "dataguardian.dashboard.dashboard_callback",
}

# --- Database ------------------------------------------------------------------------------
DATABASE_URL = env_secret("DATABASE_URL")
REDIS_URL = env_secret("REDIS_URL")
# The embedded mode is SQLite with the file-system broker: neither URL, or a sqlite:// one only.
EMBEDDED = not REDIS_URL and (
    not DATABASE_URL or DATABASE_URL.split("://", 1)[0].lower() == "sqlite"
)

# WAL lets the web server read while a worker writes; IMMEDIATE takes the write lock when a
# transaction starts, so a read never has to upgrade to a write (the cause of "database is
# locked" that no wait cures); a writer waits up to 30 s for another to finish.
_SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}

if DATABASE_URL:
    _scheme = DATABASE_URL.split("://", 1)[0].lower()
    if _scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgres:// (or sqlite://) URL, not {_scheme}://"
        )
    try:
        DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    except (ImproperlyConfigured, KeyError, ValueError) as exc:
        raise ImproperlyConfigured("DATABASE_URL is not a valid database URL") from exc
    if _scheme == "sqlite":
        DATABASES["default"]["OPTIONS"] = {
            **_SQLITE_OPTIONS,
            **DATABASES["default"].get("OPTIONS", {}),
        }
    else:
        DATABASES["default"].setdefault(
            "CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60)
        )
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "dataguardian.sqlite3",
            "OPTIONS": dict(_SQLITE_OPTIONS),
            # The tests' database is a file beside it, as the real one is (WAL, several
            # processes), never SQLite's in-memory database.
            "TEST": {"NAME": str(DATA_DIR / "test-dataguardian.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "admin:login"
# The theme's login form sends no "next" when the page was opened directly; land on the
# dashboard rather than Django's default /accounts/profile/, which does not exist here.
LOGIN_REDIRECT_URL = "admin:index"

# --- Admin bootstrap -----------------------------------------------------------------------
ADMIN_USERNAME = env.str("DATAGUARDIAN_ADMIN_USERNAME", default="admin")
ADMIN_EMAIL = env.str("DATAGUARDIAN_ADMIN_EMAIL", default="")
ADMIN_PASSWORD = env_secret("DATAGUARDIAN_ADMIN_PASSWORD")

# --- Web server (`manage.py run`) ----------------------------------------------------------
BIND = env.str("DATAGUARDIAN_BIND", default="127.0.0.1:8000")
WEB_WORKERS = env.int("DATAGUARDIAN_WEB_WORKERS", default=2)

# --- Metrics (`GET /metrics`) ----------------------------------------------------------------
# Prometheus scrapes with `Authorization: Bearer <METRICS_TOKEN>` or basic auth
# (METRICS_BASIC_AUTH = "user:password"); METRICS_ALLOW_LOOPBACK lets unauthenticated scrapes
# from 127.0.0.1/::1 in. With none of them set only a logged-in staff session may read it.
METRICS_TOKEN = env_secret("METRICS_TOKEN") or ""
METRICS_BASIC_AUTH = env_secret("METRICS_BASIC_AUTH") or ""
if METRICS_BASIC_AUTH and ":" not in METRICS_BASIC_AUTH:
    raise ImproperlyConfigured("METRICS_BASIC_AUTH must be user:password")
METRICS_ALLOW_LOOPBACK = env_bool("METRICS_ALLOW_LOOPBACK", default=False)

# --- Notifications -------------------------------------------------------------------------
# Seconds one delivery attempt may take; the first retry waits NOTIFICATION_RETRY_DELAY
# seconds, then twice that, then four times (the notifications queue's policy).
NOTIFICATION_TIMEOUT = env.float("DATAGUARDIAN_NOTIFICATION_TIMEOUT", default=10.0)
NOTIFICATION_RETRY_DELAY = env.float("DATAGUARDIAN_NOTIFICATION_RETRY_DELAY", default=60.0)
if NOTIFICATION_TIMEOUT <= 0 or NOTIFICATION_RETRY_DELAY < 0:
    raise ImproperlyConfigured(
        "DATAGUARDIAN_NOTIFICATION_TIMEOUT must be positive and "
        "DATAGUARDIAN_NOTIFICATION_RETRY_DELAY not negative"
    )
# Where operators reach DataGuardian; links in notifications point here.
PUBLIC_URL = env.str("DATAGUARDIAN_PUBLIC_URL", default=f"http://{BIND}").rstrip("/")

# --- Celery --------------------------------------------------------------------------------
# Longest a single backup may run; the broker's visibility timeout must outlast it, or Redis
# would hand a running backup to a second worker.
BACKUP_TIME_LIMIT = env.int("DATAGUARDIAN_BACKUP_TIME_LIMIT", default=24 * 3600)
if BACKUP_TIME_LIMIT < 60:
    raise ImproperlyConfigured("DATAGUARDIAN_BACKUP_TIME_LIMIT must be at least 60 seconds")

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "visibility_timeout": BACKUP_TIME_LIMIT + 3600,
        "queue_order_strategy": "priority",
        "priority_steps": list(range(10)),
        "sep": ":",
    }
else:
    _broker_dir = DATA_DIR / "broker"
    # The host names nothing (the folders below are the broker); without one kombu warns on
    # every connection that it falls back to localhost.
    CELERY_BROKER_URL = "filesystem://localhost//"
    # kombu's file-system transport with messages written whole (dataguardian.filebroker).
    CELERY_BROKER_TRANSPORT = "dataguardian.filebroker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }

CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("DATAGUARDIAN_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
# Every task names its queue where it is declared (core.queues); this is only a fallback.
CELERY_TASK_DEFAULT_QUEUE = "scheduler"
CELERY_TASK_DEFAULT_PRIORITY = 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- REST framework ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # The API's views set ``core.api.Pagination`` (page_size parameter, at most 500);
    # it cannot be named here, as that module imports DRF's views, which read this setting.
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # A body that is not JSON (or a form, for the browsable API) is a 415, not a guess.
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DataGuardian API",
    "DESCRIPTION": "Backups of databases and files: sources, storage, jobs, executions, restores.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components: write-only secrets and read-only fields then
    # appear only where they apply, and generated clients (and schemathesis) get them right.
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and the Swagger page are behind the login like the rest of /api (a session
    # from the admin login is enough in a browser).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": "/api",
    # Swagger UI from the static files (drf-spectacular-sidecar), not from a CDN:
    # the docs work on a server that has no way out to the internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # One name per choice set that several fields share (a notification's type and a
    # channel's event types; severity and a channel's minimum severity).
    "ENUM_NAME_OVERRIDES": {
        "NotificationTypeEnum": "notifications.models.NotificationType",
        "SeverityEnum": "notifications.models.Severity",
        "NotificationChannelTypeEnum": "notifications.api.CHANNEL_TYPES",
    },
}

# --- Logging -------------------------------------------------------------------------------
# Text lines for a person at a terminal (embedded mode, DEBUG), JSON lines for a log collector.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG or EMBEDDED else "json")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be 'text' or 'json'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "core.logging.TextFormatter"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "filters": {
        "routine": {"()": "dataguardian.log_filters.QuietRoutineTasks"},
        "context": {"()": "core.logging.ContextFilter"},
        "redact": {"()": "core.logging.RedactSecretsFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["routine", "context", "redact"],
        },
        # A run's own lines, kept for its record (core.logging.collect_tail).
        "run_tail": {"class": "core.logging.TailHandler"},
    },
    "root": {"handlers": ["console", "run_tail"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # At DEBUG botocore logs every request's parameters, part bodies included: backup data
        # would end up in the logs and uploads would crawl.
        "botocore": {"level": "INFO"},
        "urllib3": {"level": "INFO"},
        "paramiko": {"level": "INFO"},
        # gunicorn's own lines and its access log (dataguardian.gunicorn_config hands gunicorn
        # this configuration); gunicorn would otherwise give them handlers of its own.
        "gunicorn.error": {"level": LOG_LEVEL, "propagate": True},
        "gunicorn.access": {"level": LOG_LEVEL, "propagate": True},
    },
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = False
    X_FRAME_OPTIONS = "DENY"
    SECURE_CONTENT_TYPE_NOSNIFF = True
