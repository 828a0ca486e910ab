"""Every setting is one environment read with a safe local default.

Production values come from the environment, never from this file.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value not in ("", "0", "1", "false", "true"):
        raise ImproperlyConfigured(f"{name}={value!r}: use 1 or 0")
    return value in ("1", "true")


def envint(name: str, default: str) -> int:
    return int(os.getenv(name, default))


def envfloat(name: str) -> float | None:
    """A number, or None when the variable is unset or empty."""
    value = os.getenv(name, "").strip()
    return float(value) if value else None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent
# Local state: SQLite file, media, static files, broker folders. Importing the
# settings creates nothing: ScansConfig.ready makes the folders when Django starts.
VAR_DIR = BASE_DIR / "var"

DEBUG = envbool("DJANGO_DEBUG", "0")
SECRET_KEY = os.getenv("DJANGO_SECRET_KEY", "insecure-local-development-key" if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY, or DJANGO_DEBUG=1 for a local dev key.")
ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

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
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us: no CDN
    "axes",
    "scans",
]

MIDDLEWARE = [
    "scans.middleware.RequestIdMiddleware",  # first: every log line of a request has its id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "scans.middleware.NoStoreMiddleware",  # below WhiteNoise: static files stay cacheable
    "scans.middleware.ContentSecurityPolicyMiddleware",
    "scans.middleware.DatabaseUnavailableMiddleware",  # above sessions and auth: 503, not 500
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # after sessions, before common
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out log-in
]

ROOT_URLCONF = "kidneyweb.urls"
WSGI_APPLICATION = "kidneyweb.wsgi.application"

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
                "scans.context_processors.site",
            ],
        },
    },
]

# Connections are kept between requests and tasks (a new PostgreSQL connection per
# request or task costs a process fork on the server and a handshake on each side);
# each is checked before reuse, so a restarted database is reconnected to.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=envint("KIDNEYWEB_DB_CONN_MAX_AGE", "600"),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web and worker are separate processes writing one file: wait for locks instead of
    # failing, take the write lock at the start of a transaction, and let readers read
    # while a writer writes (WAL).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    # A file, not memory, so that a real worker process in the tests shares it; next to
    # the database file, so test runs on different databases do not share one.
    sqlite_file = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(sqlite_file.with_name(f"test-{sqlite_file.name}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "scans.passwords.RevokeApiKeyOnPasswordChange"},  # a new password revokes it
]
# Brute force: after KIDNEYWEB_LOGIN_FAILURE_LIMIT failed log-ins for one user name from
# one address, that pair is locked out for KIDNEYWEB_LOGIN_COOLOFF_MINUTES (429 and a
# page saying so; audited). Per pair, so an attacker cannot lock a clinician out from
# elsewhere. Attempts are kept in the database (admin: Axes).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("KIDNEYWEB_LOGIN_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = timedelta(minutes=envint("KIDNEYWEB_LOGIN_COOLOFF_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "scans.audit.client_ip"  # REMOTE_ADDR, as the audit trail
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Cookies and transport: HttpOnly session cookie always; HTTPS-only cookies and HSTS
# whenever debug is off (a deployment sits behind TLS).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("DJANGO_SECURE_COOKIES", "0" if DEBUG else "1")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = envint("DJANGO_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = envbool(
    "DJANGO_HSTS_PRELOAD", "1" if SECURE_HSTS_SECONDS >= 31536000 else "0"
)
# HTTPS-only cookies mean an HTTPS-only site: plain HTTP is redirected, except the
# health check (load balancers probe it over plain HTTP).
SECURE_SSL_REDIRECT = envbool("DJANGO_SSL_REDIRECT", "1" if SESSION_COOKIE_SECURE else "0")
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]
# Behind a proxy that ends TLS and sets X-Forwarded-Proto (and strips it from clients).
if envbool("DJANGO_TRUST_X_FORWARDED_PROTO", "0"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_FAILURE_VIEW = "scans.errors.csrf_failure"  # the styled 403 page; JSON under /api/
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# English unless the browser's Accept-Language or the switcher's cookie says Indonesian.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("id", "Bahasa Indonesia")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["kidneyweb.formats"]  # per-language dates: kidneyweb/formats/<code>/
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True  # read by the server only: the JavaScript catalogue is served
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", VAR_DIR / "media"))
# Not the manifest storage: that one needs collectstatic before any page renders, tests included.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Uploaded scans go to local files (MEDIA_ROOT) unless a bucket is named: then to
# S3 or any S3-compatible store, which web and workers on other hosts share.
# Credentials come from the usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
S3_BUCKET = os.getenv("KIDNEYWEB_S3_BUCKET", "")
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": os.getenv("KIDNEYWEB_S3_ENDPOINT_URL") or None,
            "region_name": os.getenv("KIDNEYWEB_S3_REGION") or None,
            "location": os.getenv("KIDNEYWEB_S3_PREFIX", ""),
            "default_acl": "private",  # scans are served only through our own views
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

# The model versions and the ACTIVE file; mlcore is given these three, it reads no
# environment of its own.
MODELS_DIR = Path(os.getenv("KIDNEYWEB_MODELS_DIR", BASE_DIR / "models"))
INFERENCE_RUNTIME = os.getenv("KIDNEYWEB_INFERENCE_RUNTIME", "litert")
# LiteRT threads per process; empty: all cores, but one in a Celery worker process
# (a worker runs one process per core).
INFERENCE_THREADS = envint("KIDNEYWEB_INFERENCE_THREADS", "0") or None
# TensorFlow's C++ start-up notices (CPU features, oneDNN) go to stderr and bury the
# output of our commands; warnings and errors still show. Set it to 0 to see them all.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if INFERENCE_RUNTIME not in ("litert", "keras"):
    raise ImproperlyConfigured(
        f"KIDNEYWEB_INFERENCE_RUNTIME={INFERENCE_RUNTIME!r}: not litert or keras"
    )
MAX_UPLOAD_BYTES = envint("KIDNEYWEB_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024))
# A CT slice is 512 x 512; 4,096 x 4,096 is generous. One request holds at most four
# files at that limit (README, "Upload budget": time and memory measured there).
MAX_IMAGE_PIXELS = envint("KIDNEYWEB_MAX_IMAGE_PIXELS", str(4096 * 4096))
MAX_UPLOAD_PIXELS = envint("KIDNEYWEB_MAX_UPLOAD_PIXELS", str(4 * 4096 * 4096))
MAX_FILES_PER_UPLOAD = envint("KIDNEYWEB_MAX_FILES_PER_UPLOAD", "50")
# Readings less confident than this are marked "uncertain - needs review". Empty: the
# threshold the active model version chose on its held-out slices (metadata.json).
UNCERTAIN_BELOW = envfloat("KIDNEYWEB_UNCERTAIN_BELOW")
# Grad-CAM heatmaps, computed by the workers after each reading (loads TensorFlow there).
HEATMAPS = envbool("KIDNEYWEB_HEATMAPS", "1")
# Django refuses a request with more files than this before any view runs.
DATA_UPLOAD_MAX_NUMBER_FILES = MAX_FILES_PER_UPLOAD
# The first handler stops keeping a file once it passes MAX_UPLOAD_BYTES, so an
# oversized file is refused without being held in memory or on disk.
FILE_UPLOAD_HANDLERS = [
    "scans.uploads.SizeCappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Staff create accounts; a deployment may let people register themselves.
ALLOW_SIGNUP = envbool("KIDNEYWEB_ALLOW_SIGNUP", "0")

# Classification runs in Celery workers. The default broker is a folder, so a laptop
# needs no Redis: web and worker must read and write the same folder, hence
# data_folder_in == data_folder_out.
# One cache for every web process (API throttling counts requests in it): Redis when
# KIDNEYWEB_CACHE_URL is set (several hosts), else files in one folder (one host).
CACHE_URL = os.getenv("KIDNEYWEB_CACHE_URL", "")
CACHE_DIR = Path(os.getenv("KIDNEYWEB_CACHE_DIR", VAR_DIR / "cache"))
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(CACHE_DIR),
        }
    )
}

# The REST API (/api/v1/, scans.api): token or session, JSON, per-user throttling.
API_THROTTLE_RATE = os.getenv("KIDNEYWEB_API_THROTTLE_RATE", "600/minute")
API_PAGE_SIZE = envint("KIDNEYWEB_API_PAGE_SIZE", "20")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["scans.api.policies.UserThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "scans.api.policies.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "kidneyweb API",
    "DESCRIPTION": (
        "Upload kidney CT slices, follow their AI readings and list model versions. "
        "Authenticate with `Authorization: Token <key>` "
        "(`python manage.py create_api_token USERNAME`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    # Deep links put a link inside each operation's button (axe-core: nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DiagnosisEnum": "scans.models.Diagnosis",
        "ScanStatusEnum": "scans.models.Scan.Status",
    },
}

BROKER_DIR = Path(os.getenv("KIDNEYWEB_BROKER_DIR", VAR_DIR / "broker"))
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's transport with whole messages only (kombu's own half-reads them).
    CELERY_BROKER_TRANSPORT = "kidneyweb.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.1,  # the folder is polled; kombu's default waits 1 s
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Redis hands an unacknowledged message to another worker after this long.
        # It must exceed the longest time a message can sit unacknowledged: the hard
        # time limit of the task it waits behind (prefetch 1) plus its own.
        "visibility_timeout": envint("KIDNEYWEB_VISIBILITY_TIMEOUT", "600"),
        # An upload must not hang when Redis is down: fail fast, the scan stays
        # queued and the recovery job sends it again.
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "queue_order_strategy": "priority",  # the order of CELERY_TASK_QUEUES
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
CELERY_TASK_IGNORE_RESULT = True
# One queue name per deployment (tests give each run its own). Heatmaps have their
# own queue and, in make run and compose, a worker of their own, so a reading never
# waits behind one; a worker serving both takes heatmaps only when no scan waits to
# be read (Redis: queue_order_strategy "priority").
CELERY_TASK_DEFAULT_QUEUE = os.getenv("KIDNEYWEB_TASK_QUEUE", "kidneyweb")
HEATMAP_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-heatmaps"
CELERY_TASK_QUEUES = {CELERY_TASK_DEFAULT_QUEUE: {}, HEATMAP_QUEUE: {}}
CELERY_TASK_ROUTES = {"scans.tasks.explain_prediction": {"queue": HEATMAP_QUEUE}}
# A worker acknowledges a task only after it ran, and a task whose process died is
# delivered again: safe because classifying a scan twice writes one result.
# Celery's Django fixup closes the database connection around every task unless this
# is set, so each task would connect anew (a server process fork per reading);
# scans.tasks closes a connection only when it is too old or broken, as Django does
# around a request.
CELERY_DB_REUSE_MAX = 10**9
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CLASSIFY_SOFT_TIME_LIMIT = envint("KIDNEYWEB_TASK_SOFT_TIME_LIMIT", "60")
CLASSIFY_TIME_LIMIT = envint("KIDNEYWEB_TASK_TIME_LIMIT", "90")
# Scans still queued or processing after this long are sent again (broker down at
# upload, worker killed). Longer than the hard time limit, so a scan still being
# read is normally left alone; if one is sent twice anyway, the second read is a
# no-op.
REQUEUE_AFTER_SECONDS = envint("KIDNEYWEB_REQUEUE_AFTER", "300")
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-scans": {
        "task": "scans.tasks.requeue_stale_scans",
        "schedule": envint("KIDNEYWEB_REQUEUE_EVERY", "60"),
    }
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Content-Security-Policy on every answer: scripts, styles, images and fetches from
# our own origin only (images also as data: URLs), no inline script, handler or style
# attribute, no plugins, no <base>, never framed, forms post only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

# Logging: errors with their tracebacks, warnings and the app's own events go to
# stderr, one line per event with the request id (scans.request_id), in web, worker
# and beat alike (Celery leaves the root logger to this configuration).
LOG_LEVEL = os.getenv("KIDNEYWEB_LOG_LEVEL", "INFO")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "scans.request_id.RequestIdFilter"}},
    "formatters": {
        "one_line": {
            "()": "scans.request_id.OneLineFormatter",
            "format": "%(asctime)s %(levelname)s %(process)d [%(request_id)s] %(name)s: "
            "%(message)s",
        }
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "filters": ["request_id"],
            "formatter": "one_line",
        }
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        # Django's own handlers (console with debug, mail_admins without) are dropped:
        # its events reach stderr once, through the root logger.
        "django": {"handlers": [], "level": "INFO"},
        **{name: {"level": LOG_LEVEL} for name in ("scans", "mlcore", "kidneyweb", "celery")},
    },
}
