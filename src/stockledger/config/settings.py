"""Settings, read from the environment.

DATABASE_URL picks the database (default: an SQLite file under var/). SECRET_KEY is generated into
var/secret_key on first use when the environment does not give one. DEBUG is off unless asked.
"""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STOCKLEDGER_VAR_DIR", Path.cwd() / "var")).resolve()


def _env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = _env_bool("DEBUG")
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_htmx",
    "stockledger.core",
    "stockledger.catalog",
    "stockledger.stock",
    "stockledger.pieces",
    "stockledger.relief",
    "stockledger.sales",
    "stockledger.reconcile",
    "stockledger.web",
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
    "django_htmx.middleware.HtmxMiddleware",
    "stockledger.core.middleware.RequestIdMiddleware",
]

ROOT_URLCONF = "stockledger.config.urls"
WSGI_APPLICATION = "stockledger.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "stockledger.web.context.nav",
            ],
        },
    },
]


def database_from_url(url: str) -> dict:
    """One place that turns a DATABASE_URL into Django's settings, with our per-backend options."""
    # CONN_MAX_AGE > 0 keeps a connection open across requests for that many seconds; it is then checked
    # before each request reuses it (CONN_HEALTH_CHECKS), so a connection the server dropped meanwhile
    # (restart, idle timeout, terminated) is replaced instead of failing the request.
    max_age = int(os.environ.get("CONN_MAX_AGE", "0"))
    db = dj_database_url.parse(url, conn_max_age=max_age, conn_health_checks=max_age > 0)
    engine = db["ENGINE"]
    options = db.setdefault("OPTIONS", {})
    if engine.endswith("sqlite3"):
        # Writers take the lock at BEGIN: no upgrade deadlocks, the row locks of the other backends
        # become one database lock here. WAL lets readers go on while one writer writes.
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", 30)
        options.setdefault(
            "init_command",
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;",
        )
    elif engine.endswith("mysql"):
        options.setdefault("isolation_level", "read committed")
        options.setdefault("charset", "utf8mb4")
        options.setdefault("init_command", "SET sql_mode='STRICT_TRANS_TABLES'")
    return db


DEFAULT_SQLITE = f"sqlite:///{VAR_DIR / 'stockledger.sqlite3'}"
DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL") or DEFAULT_SQLITE)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Tests on SQLite use a file, not shared-cache memory: the WAL and IMMEDIATE behaviour under
    # test is then the behaviour in production, and threads can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"  # the dashboard
LOGOUT_REDIRECT_URL = "/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["stockledger.core.api.CanRead"],
    "DEFAULT_PARSER_CLASSES": [
        "stockledger.core.api.JSONParser",
        "stockledger.core.api.FormParser",
        "stockledger.core.api.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "stockledger.core.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "stockledger.core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "stockledger API",
    "DESCRIPTION": "Batch-tracked inventory: batches, stock records, ledger, reservations, verify and recompute.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "stockledger.core.api.document_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
