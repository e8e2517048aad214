"""Django settings: a mapping of `smarter.common.conf` onto Django's names, and nothing else.

No value here is read from the environment directly; change behaviour through `SMARTER_*`
variables (see `.env.example`).
"""

from __future__ import annotations

import contextlib
import sys

import dj_database_url

from smarter.common.conf import BASE_DIR, ConfigurationError, load_settings

try:
    smarter_settings = load_settings()
except ConfigurationError as error:
    # One clear line per bad variable, then stop: a half-configured platform is worse than none.
    print(f"Smarter cannot start: {error}", file=sys.stderr)
    raise SystemExit(2) from None

conf = smarter_settings

SECRET_KEY = conf.effective_secret_key
DEBUG = conf.debug
# Django's own host check lets every host through because the first middleware routes by host:
# the platform's hosts below, a deployed chatbot's default host or verified custom domain; any
# other host is refused there with 400 (smarter/apps/chatbot/routing.py).
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "smarter.apps.account",
    "smarter.apps.knowledge",
    "smarter.apps.plugin",
    "smarter.apps.chatbot",
    "smarter.apps.chat",
    "smarter.apps.evaluation",
    "smarter.apps.channels",
    "smarter.apps.api",
    "smarter.apps.dashboard",
]

MIDDLEWARE = [
    "smarter.apps.chatbot.public.middleware.HostRoutingMiddleware",
    "smarter.lib.observability.RequestContextMiddleware",
    # Django's own, whose CPU-only hooks run on the event loop under ASGI (smarter.lib.http.middleware).
    "smarter.lib.http.middleware.SecurityMiddleware",
    "smarter.lib.http.middleware.StaticFilesMiddleware",  # WhiteNoise, without the thread hop
    "smarter.lib.http.middleware.SessionMiddleware",
    "smarter.lib.http.middleware.CommonMiddleware",
    "smarter.lib.http.middleware.CsrfViewMiddleware",
    "smarter.lib.http.middleware.AuthenticationMiddleware",
    "smarter.lib.http.middleware.MessageMiddleware",
    "smarter.lib.http.middleware.XFrameOptionsMiddleware",
]
# Django's deploy checks look for its security, clickjacking and CSRF middleware by dotted name;
# MIDDLEWARE lists subclasses of them, which smarter.lib.http.checks checks instead (the same
# warnings, from the same settings).
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "smarter.urls"
WSGI_APPLICATION = "smarter.wsgi.application"
ASGI_APPLICATION = "smarter.asgi.application"

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
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------------------
_database = dj_database_url.parse(conf.effective_database_url, conn_max_age=60, conn_health_checks=True)
if conf.database_engine == "mysql":
    # Merged, not replaced: TLS options given in SMARTER_DATABASE_URL must survive.
    _database.setdefault("OPTIONS", {}).update(
        {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"}
    )
    # Without this the test database may be created latin1 and reject emoji.
    _database["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
elif conf.database_engine == "sqlite":
    conf.state_dir.mkdir(parents=True, exist_ok=True)
    _database["CONN_MAX_AGE"] = 0
    _database["OPTIONS"] = {"timeout": 20}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, Celery ----------------------------------------------------------------------------
if conf.redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": conf.redis_url,
            "KEY_PREFIX": "smarter",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    # Host routes of deployed chatbots are cached here too: room for many more than the default 300.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10000}}
    }

CELERY_BROKER_URL = conf.redis_url or "memory://"
CELERY_TASK_ALWAYS_EAGER = conf.tasks_run_eagerly
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "smarter"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"

# --- auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = conf.state_dir / "static"
# WhiteNoise warns at every start without the folder; a read-only image collects it elsewhere.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# The chat renderer's browser libraries, installed by npm (package.json) and served as they ship
# under /static/vendor/<name>/: no copy of them is kept in the repository. A folder that is
# absent (npm ci not run) is left out, and the chat then shows answers as plain text.
NODE_MODULES = BASE_DIR / "node_modules"
VENDOR_STATIC = {
    "markdown-it": "markdown-it/dist/browser",
    "dompurify": "dompurify/dist",
    "highlight": "@highlightjs/cdn-assets",
}
STATICFILES_DIRS = [
    (f"vendor/{name}", NODE_MODULES / folder)
    for name, folder in VENDOR_STATIC.items()
    if (NODE_MODULES / folder).is_dir()
]
MEDIA_ROOT = conf.state_dir / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024 + 1024

# --- outgoing mail (password resets) ---------------------------------------------------------
if conf.email_host:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = conf.email_host
    EMAIL_PORT = conf.email_port
    EMAIL_HOST_USER = conf.email_user or ""
    EMAIL_HOST_PASSWORD = conf.email_password.get_secret_value() if conf.email_password else ""
    EMAIL_USE_TLS = conf.email_security == "starttls"
    EMAIL_USE_SSL = conf.email_security == "tls"
    EMAIL_TIMEOUT = 10
elif conf.debug:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    # No server: no mail, and none printed either (a reset link in a log opens the account).
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = SERVER_EMAIL = conf.effective_email_from

# --- security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if conf.https:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes come over plain HTTP from the kubelet; they must not be redirected.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = [f"https://{conf.platform_host}"]
else:
    CSRF_TRUSTED_ORIGINS = [f"http://{conf.platform_host}"]

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "smarter.apps.account.api.authentication.ApiKeyAuthentication",
        "smarter.apps.account.api.authentication.ConsoleSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["smarter.apps.account.api.permissions.IsAccountMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["smarter.apps.api.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "smarter.lib.http.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Smarter API",
    "DESCRIPTION": "Build, test and deploy LLM chatbots that act on your own data.",
    "VERSION": "v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The async chat doors are plain Django views: described by their apps, added here.
    "PREPROCESSING_HOOKS": ["smarter.apps.api.openapi.document_async_doors"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "smarter.apps.api.openapi.openai_paths_as_openai_names_them",
    ],
}

# --- logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "smarter.lib.observability.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "smarter.lib.observability.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s turn=%(turn_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "smarter.lib.observability.StderrHandler",
            "formatter": conf.log_format,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": conf.log_level},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}

# --- Smarter's own -----------------------------------------------------------------------------
# The typed configuration, the one way code reads Smarter's settings: `settings.SMARTER.<field>`
# (tests override fields with the `smarter_settings` fixture).
SMARTER = conf
