"""Settings, read from the environment through small strict helpers.

Safe production defaults: DEBUG off, explicit hosts, SECRET_KEY required unless DEBUG is on.
Nothing here touches the disk or the network at import time.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "on"}
_FALSE = {"0", "false", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """Only 1/true/on and 0/false/off: a "yes-ish" typo must not turn DEBUG on."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: use 1/true/on or 0/false/off")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """NAME, or the contents of the file NAME_FILE points at (Docker/K8s secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "insecure-dev-only-key-do-not-use-in-production-0123456789abcdef"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public address of the site, for links sent outside it (webhooks), e.g. https://label.example.com
SITE_URL = env_str("SITE_URL")
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
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
    "drf_spectacular_sidecar",  # Swagger UI and Redoc from our own static files
    "annotate",
    "activelearn",
]

MIDDLEWARE = [
    # Outermost: a request whose database connection broke is tried again whole, or 503.
    "annotate.middleware.DatabaseFaultMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "annotate.middleware.RequestBodyLimitMiddleware",  # before anything reads the body
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# Database: PostgreSQL only. DATABASE_URL, which manage.py and the test suite set to the
# embedded server (annotate/embedded/postgres.py) when it is unset; no other engine.
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set: run through manage.py (which starts the embedded "
        "PostgreSQL) or point DATABASE_URL at a PostgreSQL server"
    )
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        f"DATABASE_URL must be a PostgreSQL URL (postgres://...), not {DATABASE_URL.split(':')[0]}"
    )
if env_str("TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DB_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files through whitenoise; media through the storage below.
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"

S3_BUCKET = env_str("S3_BUCKET")
if S3_BUCKET:
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
            "region_name": env_str("S3_REGION") or None,
            "access_key": env_secret("S3_ACCESS_KEY_ID") or None,
            "secret_key": env_secret("S3_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _media_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or not env_bool("STATIC_MANIFEST", True)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploads: large files stream to disk, never fully into memory.
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("UPLOAD_MAX_FILES", 500)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640

# Media limits (hostile input).
MEDIA_MAX_IMAGE_PIXELS = env_int("MEDIA_MAX_IMAGE_PIXELS", 100_000_000)
MEDIA_MAX_UPLOAD_BYTES = env_int("MEDIA_MAX_UPLOAD_BYTES", 2 * 1024**3)
MEDIA_ZIP_MAX_ENTRIES = env_int("MEDIA_ZIP_MAX_ENTRIES", 10_000)
MEDIA_ZIP_MAX_TOTAL_BYTES = env_int("MEDIA_ZIP_MAX_TOTAL_BYTES", 20 * 1024**3)
MEDIA_VIDEO_TIMEOUT_S = env_int("MEDIA_VIDEO_TIMEOUT_S", 1800)
MEDIA_VIDEO_MEMORY_BYTES = env_int("MEDIA_VIDEO_MEMORY_BYTES", 4 * 1024**3)
MEDIA_THUMBNAIL_SIZE = 256

# Model checkpoints (ONNX only): upload size, and the limits of the child process that loads
# and test-runs an uploaded file before it is accepted.
CHECKPOINT_MAX_BYTES = env_int("CHECKPOINT_MAX_BYTES", 500 * 1024**2)
CHECKPOINT_CHECK_MEMORY_BYTES = env_int("CHECKPOINT_CHECK_MEMORY_BYTES", 3 * 1024**3)
CHECKPOINT_CHECK_TIMEOUT_SECONDS = env_int("CHECKPOINT_CHECK_TIMEOUT_SECONDS", 60)

# Celery over Redis. The run script starts a private Redis when REDIS_URL is unset.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3300)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# One queue per kind of work, so that a worker (or a machine) can be given to each and a long
# export never waits in front of a scoring run. The default queue above keeps the rest: the
# periodic sweeps and catch-ups. `serve` runs one worker on all of them; README "Scaling"
# gives a worker command per queue. Routing is by task name (config/celery.route_task), so a
# job the sweep sends again goes to its kind's queue too. CELERY_QUEUE_PREFIX puts a run's
# queues apart on a shared Redis (the tests use it).
WORK_QUEUE_PREFIX = env_str("CELERY_QUEUE_PREFIX", "")
WORK_QUEUES = ("ingest", "scoring", "training", "exchange", "webhooks")
WORK_QUEUE_OF_TASK = {
    "annotate.process_video": "ingest",
    "annotate.bucket_register": "ingest",
    "annotate.bucket_decode": "ingest",
    "activelearn.score_project": "scoring",
    "activelearn.score_chunk": "scoring",
    # Propagation is a model run a person waits for, like scoring.
    "annotate.propagation_run": "scoring",
    "activelearn.retrain_baseline": "training",
    "activelearn.audit_measure": "training",
    "annotate.exchange.export_run": "exchange",
    "annotate.exchange.import_run": "exchange",
    "activelearn.webhook_deliver": "webhooks",
}
CELERY_TASK_ROUTES = ("config.celery.route_task",)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker that loses Redis reconnects (2, 4, ... up to 30 s apart) for as long as it takes,
# instead of exiting after 100 tries: Redis restarting is an outage to wait out, not a reason
# to stop. (config/celery.py also keeps a task running at that moment from killing it.)
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Tasks running when the connection is lost keep running: the job's row, not the message, is
# the job, so they finish it; their ack may fail, and a redelivery finds the job done (every
# task is idempotent). Cancelling them (Celery 6's default) would only make the work again.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A message taken by a worker that dies whole comes back after this many seconds; it must
# exceed the task time limit, or a long task would run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 600)
}
CELERY_RESULT_EXPIRES = 24 * 3600
# Storing a result while Redis is down: a couple of quick tries, not Celery's 20 (some 20 s,
# a worker process stuck meanwhile). Jobs keep their results in their rows, not here.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
}
# Jobs (annotate.jobs): a worker running a job moves its deadline on every JOB_HEARTBEAT_S, to
# JOB_DEAD_AFTER_S ahead; the sweep, every JOBS_SWEEP_EVERY_S, runs again (or fails) a job
# whose deadline passed. A killed worker's job is so noticed within about two minutes.
JOB_HEARTBEAT_S = env_int("JOB_HEARTBEAT_S", 10)
JOB_DEAD_AFTER_S = env_int("JOB_DEAD_AFTER_S", 90)
JOBS_SWEEP_EVERY_S = env_int("JOBS_SWEEP_EVERY_S", 60)
# A queued job no worker took within this many seconds is sent again by the sweep (its
# message was lost: Redis restarted empty, or was down when it was sent).
JOB_RESEND_AFTER_S = env_int("JOB_RESEND_AFTER_S", 120)
if JOB_DEAD_AFTER_S < 3 * JOB_HEARTBEAT_S:
    raise ImproperlyConfigured(
        f"JOB_DEAD_AFTER_S={JOB_DEAD_AFTER_S} must be at least three heartbeats "
        f"(JOB_HEARTBEAT_S={JOB_HEARTBEAT_S}), or a slow beat would look like a dead worker"
    )

# A scoring run's pool pass over at least this many tasks writes the queue's order as a fresh
# generation swapped in (annotate.queue.priorities.priorities_replace), a smaller one in place
# (activelearn.scoring.runs; benchmarks/README.md compares the two at 1,000,000 tasks).
SCORING_POOL_SWAP_MIN = env_int("SCORING_POOL_SWAP_MIN", 50_000)

# Imported predictions are stored by activelearn; annotate reaches it through this path only.
EXCHANGE_PREDICTIONS_SINK = "activelearn.predictions.imports.predictions_store"
# Webhooks to loopback, private, link-local or reserved addresses are refused unless this is on.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)

# One cache for every web process (rate limits count across web server workers).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "annotate"),
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes a missing or bad credential a 401
        # (DRF answers 403 when the first class gives no header), so a client can tell it
        # from a missing permission. Session-backed page scripts treat 401 as "log in again".
        "annotate.auth.LeanTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Page numbers with a count that stays cheap past 10,000 rows (annotate.counting).
    "DEFAULT_PAGINATION_CLASS": "annotate.api.pagination.BoundedCountPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's, plus the answer each service error carries (annotate.services.errors).
    "EXCEPTION_HANDLER": "annotate.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Annotate API",
    "DESCRIPTION": "Projects, media, tasks and annotations of the active-learning platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The docs pages load their scripts from our static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The refusals DRF answers by itself (400, 401, 403, 404) are declared where they occur.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotate.api.errors.declare_refusals",
    ],
    # One name per choice set wherever it is shown (every job kind shares the job model's
    # states). AnnotationKindEnum is named in annotate.api.serializers.
    "ENUM_NAME_OVERRIDES": {
        "JobStateEnum": "annotate.models.jobs.JobState",
        "PropagationBelowEnum": "annotate.models.choices.PropagationBelow",
        "ModelVersionKindEnum": "activelearn.models.ModelVersion.Kind",
        "TaskStateEnum": "annotate.models.AnnotationTask.State",
        "MediaKindEnum": "annotate.models.Asset.Kind",
        "AssetStateEnum": "annotate.models.Asset.State",
        "TaskKindEnum": "annotate.models.AnnotationTask.Kind",
        "ShapeSourceEnum": "annotate.models.ShapeSource",
        "ReviewDecisionEnum": "annotate.models.Review.Decision",
        "ExchangeFormatEnum": "annotate.models.exchange_jobs.ExchangeFormat.values",
        "ExportPhaseEnum": "annotate.models.exchange_jobs.ExportJob.Phase",
        "ExportStateFilterEnum": "annotate.exchange.selectors.STATES_BY_FILTER",
        "ImportModeEnum": "annotate.models.exchange_jobs.ImportJob.Mode",
    },
}

# Security: on by default, relaxed only by DEBUG or explicit opt-out behind a proxy.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a per-domain commitment that is hard to undo, not a default:
        # opt in with SECURE_HSTS_PRELOAD=1. Until then the deploy check's hint is noise.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    if env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Hostile files and abusive clients (issue 11). Each limit is refused with its reason in words.
# Zip archives: one entry of media may be as large as an upload; label archives hold text.
MEDIA_ZIP_MAX_ENTRY_BYTES = env_int("MEDIA_ZIP_MAX_ENTRY_BYTES", MEDIA_MAX_UPLOAD_BYTES)
IMPORT_ZIP_MAX_ENTRIES = env_int("IMPORT_ZIP_MAX_ENTRIES", 200_000)
IMPORT_ZIP_MAX_ENTRY_BYTES = env_int("IMPORT_ZIP_MAX_ENTRY_BYTES", 64 * 1024**2)
IMPORT_ZIP_MAX_TOTAL_BYTES = env_int("IMPORT_ZIP_MAX_TOTAL_BYTES", 1024**3)
IMPORT_JSON_MAX_BYTES = env_int("IMPORT_JSON_MAX_BYTES", 512 * 1024**2)
# Media: images' longest side and long-to-short side ratio; videos' resolution, length, frames.
MEDIA_MAX_IMAGE_SIDE = env_int("MEDIA_MAX_IMAGE_SIDE", 32_768)
MEDIA_MAX_IMAGE_ASPECT = env_int("MEDIA_MAX_IMAGE_ASPECT", 20)
MEDIA_VIDEO_MAX_WIDTH = env_int("MEDIA_VIDEO_MAX_WIDTH", 4096)
MEDIA_VIDEO_MAX_HEIGHT = env_int("MEDIA_VIDEO_MAX_HEIGHT", 4096)
MEDIA_VIDEO_MAX_DURATION_S = env_int("MEDIA_VIDEO_MAX_DURATION_S", 3 * 3600)
MEDIA_VIDEO_MAX_FRAMES = env_int("MEDIA_VIDEO_MAX_FRAMES", 500_000)
# Request bodies, refused with 413 before they are read: uploads (multipart, JSON Lines) and
# every other body (JSON, forms), which is parsed in memory.
REQUEST_MAX_UPLOAD_BYTES = env_int("REQUEST_MAX_UPLOAD_BYTES", MEDIA_MAX_UPLOAD_BYTES + 1024**2)
REQUEST_MAX_BODY_BYTES = env_int("REQUEST_MAX_BODY_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE)
# Logins (page and token): failures per username and per client address within the lockout
# window; the client address is taken from X-Forwarded-For only through this many proxies.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
LOGIN_FAILURES_PER_USERNAME = env_int("LOGIN_FAILURES_PER_USERNAME", 10)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 30)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900)
# Outbound requests (webhooks) never go to these networks, even with WEBHOOK_ALLOW_PRIVATE:
# the cloud metadata services (AWS/GCP/Azure, Alibaba, AWS over IPv6).
OUTBOUND_DENY_NETWORKS = env_list(
    "OUTBOUND_DENY_NETWORKS", "169.254.169.254/32,100.100.100.200/32,fd00:ec2::254/128"
)
# Every list endpoint refuses unknown query parameters and unknown orderings with a 400.
REST_FRAMEWORK["DEFAULT_FILTER_BACKENDS"] = [
    "annotate.api.strict_filters.StrictQueryParamsFilter",
    "django_filters.rest_framework.DjangoFilterBackend",
    "annotate.api.strict_filters.StrictOrderingFilter",
]
# Bucket sources (annotate.buckets): their endpoints must be globally routable addresses;
# this lets loopback in too (a local S3-compatible server, for tests and development).
BUCKET_ALLOW_LOOPBACK = env_bool("BUCKET_ALLOW_LOOPBACK", False)
# Keys per listing request (S3's most is 1,000) and images per decoding message.
BUCKET_LIST_PAGE = env_int("BUCKET_LIST_PAGE", 1000)
BUCKET_DECODE_BATCH = env_int("BUCKET_DECODE_BATCH", 100)
# Objects a decoding worker reads ahead of its decoding (each read waits on a round trip).
BUCKET_DECODE_READERS = env_int("BUCKET_DECODE_READERS", 4)
# Key ranges of a registration listed side by side (annotate.buckets.listing); 1: one chain.
BUCKET_LIST_WORKERS = env_int("BUCKET_LIST_WORKERS", 4)
