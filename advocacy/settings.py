"""Settings, all from the environment (12-factor), with defaults that run the demo.

Demo defaults: SQLite under var/, Celery on kombu's filesystem transport (no server),
an in-process cache and the "outbox" mail backend that keeps sent mail in the database
so it can be read at /_mail/. Production and tests set DATABASE_URL and REDIS_URL.
"""

import sys
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="demo-insecure-secret-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "advocacy",
    "rewards",
    "programs",
    "referrals",
    "nps",
    "insights",
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
    "allauth.account.middleware.AccountMiddleware",
    "advocacy.middleware.AdminScopesMiddleware",
]

ROOT_URLCONF = "advocacy.urls"
WSGI_APPLICATION = "advocacy.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["advocacy.templatetags.advocacy_tags"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo's web server and worker share one file: wait for the lock, don't fail.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="advocacy"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "advocacy.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# django-allauth: staff sign in with email + password; advocates with an emailed code.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Advocacy: "
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 15 * 60
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 5
ACCOUNT_SIGNUP_FORM_CLASS = "advocacy.forms.SignupWorkspaceForm"
ACCOUNT_ADAPTER = "advocacy.adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PRESERVE_USERNAME_CASING = False
# Failed logins are rate-limited per IP and per account (allauth's cache-based limits).
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
    "request_login_code": "20/m/ip,3/m/key",
}
LOGIN_REDIRECT_URL = "/w/"
LOGIN_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed file names need `collectstatic` (done by the Docker image); the demo (DEBUG) and
# the test suite serve the files as they are.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG and "pytest" not in sys.modules)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
MEDIA_ROOT = VAR_DIR / "media"

# Mail: EMAIL_URL (smtp://…, consolemail://) or the demo's outbox (mail kept in the
# database and shown at /_mail/).
EMAIL_URL = env.str("EMAIL_URL", default="outbox://")
if EMAIL_URL.startswith("outbox:"):
    EMAIL_BACKEND = "advocacy.mail.OutboxBackend"
else:
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Advocacy <no-reply@advocacy.local>")
SHOW_OUTBOX = env.bool("SHOW_OUTBOX", default=EMAIL_URL.startswith("outbox:"))

# Security (manage.py check --deploy passes when DEBUG is off and TLS is in front).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["advocacy.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["advocacy.api.auth.HasWorkspaceApiKey"],
    "DEFAULT_PAGINATION_CLASS": "advocacy.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["advocacy.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "advocacy.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["advocacy.api.auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="6000/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Advocacy API",
    "DEFAULT_GENERATOR_CLASS": "advocacy.api.schema.UnscopedSchemaGenerator",
    "DESCRIPTION": (
        "REST API of the customer advocacy platform. Authenticate with "
        "`Authorization: Bearer <api key>`. Errors are JSON: "
        '`{"error": {"code": ..., "message": ..., "fields": {...}}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKey": {"type": "http", "scheme": "bearer"}}
    },
    "SECURITY": [{"ApiKey": []}],
    "ENUM_NAME_OVERRIDES": {
        "EventKindEnum": "advocacy.models.EventKind",
        "AdvocateTypeEnum": "advocacy.models.AdvocateType",
        "AskKindEnum": "programs.models.AskKind",
        "OutcomeKindEnum": "programs.models.OutcomeKind",
        "CatalogItemKindEnum": "rewards.models.ItemKind",
        "LedgerEntryKindEnum": "rewards.models.EntryKind",
        "TaskKindEnum": "advocacy.models.TaskKind",
        "StageEnum": "advocacy.models.Stage",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "advocacy.api.schema.add_error_responses",
    ],
}

# Celery: ids in, dispatched on commit, idempotent tasks (see advocacy/tasks.py).
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default=REDIS_URL or "filesystem://"
)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "store_processed": False,
        "polling_interval": 0.1,  # the default (1 s) drains only about one message a second
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    # The filesystem transport needs its folders before the first message (e.g. seed_demo run alone).
    for _folder in ("broker", "broker-processed"):
        (VAR_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ["default", "imports", "jobs", "email", "clicks", "rollups"]
CELERY_TASK_ROUTES = {
    "advocacy.tasks.run_import": {"queue": "imports"},
    "advocacy.tasks.send_email": {"queue": "email"},
    "advocacy.tasks.purge_idempotency_keys": {"queue": "jobs"},
    "rewards.badge_tasks.award_tenure_badges": {"queue": "jobs"},
    "rewards.tasks.expire_points": {"queue": "jobs"},
    "rewards.tasks.expire_points_in_workspace": {"queue": "jobs"},
    "rewards.tasks.release_held_rewards": {"queue": "jobs"},
    "rewards.tasks.release_held_rewards_in_workspace": {"queue": "jobs"},
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The beat schedule grows as jobs arrive: every scheduled job is also a command.
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": {
        "task": "advocacy.tasks.purge_idempotency_keys",
        "schedule": crontab(minute=17, hour="*/6"),
    },
    "award-tenure-badges": {"task": "rewards.badge_tasks.award_tenure_badges", "schedule": crontab(minute=23, hour=4)},
    "expire-points": {"task": "rewards.tasks.expire_points", "schedule": crontab(minute=5, hour=3)},
    "release-held-rewards": {"task": "rewards.tasks.release_held_rewards", "schedule": crontab(minute=11)},
    "rotate-asks": {"task": "programs.tasks.rotate_asks", "schedule": crontab(minute="*/15"), "options": {"queue": "jobs"}},
    "check-fatigue": {"task": "programs.tasks.check_fatigue", "schedule": crontab(minute=35, hour=5), "options": {"queue": "jobs"}},
    "expire-assignments": {"task": "programs.tasks.expire_assignments", "schedule": crontab(minute=7), "options": {"queue": "jobs"}},
    "send-reminders": {"task": "programs.tasks.send_reminders", "schedule": crontab(minute=9), "options": {"queue": "jobs"}},
    "drain-clicks": {"task": "referrals.tasks.drain_clicks", "schedule": 10.0, "options": {"queue": "clicks", "expires": 10}},
    "send-surveys": {"task": "nps.tasks.send_surveys", "schedule": crontab(minute=13), "options": {"queue": "jobs"}},
    # Rollups: today every hour, yesterday again at night (late events), scores nightly.
    "rollup-today": {"task": "insights.tasks.rollup_today", "schedule": crontab(minute=25), "options": {"queue": "jobs"}},
    "rollup-yesterday": {"task": "insights.tasks.rollup_yesterday", "schedule": crontab(minute=40, hour=1), "options": {"queue": "jobs"}},
    "recompute-scores": {"task": "insights.tasks.recompute_scores", "schedule": crontab(minute=30, hour=2), "options": {"queue": "jobs"}},
}

IDEMPOTENCY_KEY_TTL_HOURS = 24
IMPORT_INLINE_MAX_ROWS = env.int("IMPORT_INLINE_MAX_ROWS", default=200)
# NPS: how long an answer from the email link settles before the promoter/detractor loop runs (nps/loop.py).
NPS_LOOP_SETTLE_SECONDS = env.int("NPS_LOOP_SETTLE_SECONDS", default=600)
IMPORT_MAX_BYTES = 10 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
