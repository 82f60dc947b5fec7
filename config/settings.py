"""Settings for reader: every value comes from the environment (see README)."""

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from config.redis_config import RedisConfigError, RedisTarget, celery_redis, parse_sentinels, redis_cache

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random value (for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`), or DEBUG=true on a development "
            "machine. `make run` keeps a generated key in the untracked .env file."
        )
    SECRET_KEY = "insecure-debug-only-key"  # noqa: S105  (DEBUG only: never served with DEBUG off)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    # The Django admin, with its sign-in throttled like the API's (reader.admin_site).
    "reader.admin_apps.ReaderAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # intcomma in the cache panel
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "books",
    "reader",
    "cacheadmin",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A Content-Security-Policy on HTML pages (SECURE_CSP below).
    "cacheadmin.middleware.ContentSecurityPolicyMiddleware",
    # Serves the admin's and the browsable API's static files under gunicorn, DEBUG off.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # 413 for a body over its limit, before anything reads it (its process_view runs before CSRF's).
    "cacheadmin.middleware.BodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's MessageMiddleware, its storage made only when a request uses messages (the admin).
    "cacheadmin.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))

BOOK_MAX_UPLOAD_MB = env.int("BOOK_MAX_UPLOAD_MB", default=50)
# Every other body (progress, sign-in, a book's fields, a description...).
API_MAX_BODY_KB = env.int("API_MAX_BODY_KB", default=256)
# cacheadmin.middleware.BodyLimitMiddleware answers 413 above the limit of each request (uploads:
# BOOK_MAX_UPLOAD_MB, else API_MAX_BODY_KB) before anything reads the body; Django's own limit is
# only a backstop, as large as the largest upload (a JSON book arrives in the body).
DATA_UPLOAD_MAX_MEMORY_SIZE = BOOK_MAX_UPLOAD_MB * 1024 * 1024
EPUB_MAX_UNCOMPRESSED_MB = env.int("EPUB_MAX_UNCOMPRESSED_MB", default=300)
EPUB_MAX_ENTRIES = env.int("EPUB_MAX_ENTRIES", default=5000)
# A book's size, EPUB or JSON (books.limits): beyond, 400 naming the setting.
BOOK_MAX_CHAPTERS = env.int("BOOK_MAX_CHAPTERS", default=2000)
CHAPTER_MAX_MB = env.int("CHAPTER_MAX_MB", default=10)

# --- Redis: one server, or a primary named by Sentinel (config.redis_config) ----------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# host:port,host:port of the sentinels and the name they monitor the primary under. When
# set, every Redis user follows the primary they name; REDIS_URL then only gives the
# password and database number.
REDIS_SENTINELS = env("REDIS_SENTINELS", default="")
REDIS_SENTINEL_MASTER = env("REDIS_SENTINEL_MASTER", default="")
REDIS_SENTINEL_PASSWORD = env("REDIS_SENTINEL_PASSWORD", default="")  # the sentinels' own, if any
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.25)
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=0.25)
try:
    REDIS = RedisTarget(
        url=REDIS_URL,
        sentinels=tuple(parse_sentinels(REDIS_SENTINELS)),
        master=REDIS_SENTINEL_MASTER,
        sentinel_password=REDIS_SENTINEL_PASSWORD,
        socket_timeout=REDIS_SOCKET_TIMEOUT,
        connect_timeout=REDIS_CONNECT_TIMEOUT,
    )
except RedisConfigError as error:
    raise ImproperlyConfigured(str(error)) from error

# --- Redis response cache (cacheadmin.cache) ---------------------------------
REDIS_CACHE_ENABLED = env.bool("REDIS_CACHE_ENABLED", default=True)
REDIS_CACHE_DEFAULT_TTL = env.int("REDIS_CACHE_DEFAULT_TTL", default=3600)
REDIS_CACHE_DYNAMIC_TTL = env.int("REDIS_CACHE_DYNAMIC_TTL", default=300)
# How long the circuit breaker keeps Redis out of the request path after a failure.
REDIS_CACHE_RETRY_SECONDS = env.float("REDIS_CACHE_RETRY_SECONDS", default=0.5)
# How often each process checks for retirements that could not reach Redis.
REDIS_CACHE_RELAY_SECONDS = env.float("REDIS_CACHE_RELAY_SECONDS", default=0.25)
# How long concurrent misses wait for the one computing an answer before asking the database.
REDIS_CACHE_LEASE_WAIT_SECONDS = env.float("REDIS_CACHE_LEASE_WAIT_SECONDS", default=0.5)
REDIS_CACHE_PREFETCH = env.bool("REDIS_CACHE_PREFETCH", default=True)
# An answer larger than this is served but not stored (X-Cache: BYPASS).
REDIS_CACHE_MAX_ENTRY_MB = env.float("REDIS_CACHE_MAX_ENTRY_MB", default=8)
# A retirement waits this long for REDIS_REPLICA_ACKS replicas to hold it (Redis WAIT);
# without them it is counted as missed, so whichever server is primary next retires
# everything (see README, "Running at scale"). 0: no waiting (the default without Sentinel).
REDIS_REPLICA_WAIT_MS = env.int("REDIS_REPLICA_WAIT_MS", default=100 if REDIS.uses_sentinel else 0)
REDIS_REPLICA_ACKS = env.int("REDIS_REPLICA_ACKS", default=1)
if REDIS_REPLICA_WAIT_MS < 0 or REDIS_REPLICA_WAIT_MS >= REDIS_SOCKET_TIMEOUT * 1000:
    raise ImproperlyConfigured("REDIS_REPLICA_WAIT_MS must be at least 0 and below REDIS_SOCKET_TIMEOUT.")
if REDIS_REPLICA_ACKS < 1:
    raise ImproperlyConfigured("REDIS_REPLICA_ACKS must be at least 1.")

_cache_options = {
    # Stored answers are bytes and small dicts: msgpack keeps them compact and,
    # unlike pickle, cannot run code if someone else writes to Redis.
    "SERIALIZER": "django_redis.serializers.msgpack.MSGPackSerializer",
    "CONNECTION_POOL_KWARGS": {"max_connections": env.int("REDIS_MAX_CONNECTIONS", default=50)},
}
if env.bool("REDIS_CACHE_COMPRESS", default=False):
    _cache_options["COMPRESSOR"] = "django_redis.compressors.zlib.ZlibCompressor"

REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", default="reader")
# django-redis reads this at the end of every request, for every cache used in it; set here,
# it is read without an AttributeError each time (False: connections stay open, pooled).
DJANGO_REDIS_CLOSE_CONNECTION = False
CACHES = {
    # Each new connection of the response cache is checked before its first command
    # (cacheadmin.connections): a server that is not the one the data was written on retires
    # every stored answer first.
    "default": redis_cache(
        REDIS,
        key_prefix=REDIS_KEY_PREFIX,
        timeout=REDIS_CACHE_DEFAULT_TTL,
        options=_cache_options,
        connection_factory="cacheadmin.connections."
        + ("SentinelConnectionFactory" if REDIS.uses_sentinel else "ConnectionFactory"),
    ),
    # Throttle counters (cacheadmin.throttling): the same Redis (through Sentinel too) under a
    # prefix of their own, so no clear of the response cache ever reaches them.
    "throttle": redis_cache(REDIS, key_prefix=f"{REDIS_KEY_PREFIX}-throttle"),
}

# --- throttles (cacheadmin.throttling) ------------------------------------------------
# DRF rates ("20/min", "600/min", "30/hour"); "off" turns one off. Each counts in a fixed window.


def _rate(name, default):
    value = env(name, default=default).strip()
    if value.lower() in ("off", "none", ""):
        return None
    number, _, period = value.partition("/")
    if not number.isdecimal() or period[:1] not in ("s", "m", "h", "d"):
        raise ImproperlyConfigured(f"{name} must look like '20/min' (per s, min, hour or day) or 'off', not {value!r}.")
    return value


_auth_rate = _rate("THROTTLE_AUTH_RATE", "20/min")
THROTTLE_RATES = {
    "sign_in": _auth_rate,  # auth/token/ and the admin login, per client address
    "register": _auth_rate,  # auth/register/, per client address
    "sign_in_user": _rate("THROTTLE_LOGIN_USER_RATE", "20/hour"),  # sign-in (and password change), per username
    "read": _rate("THROTTLE_READ_RATE", "600/min"),  # per user, cached hits included
    "write": _rate("THROTTLE_WRITE_RATE", "120/min"),  # per user
    "upload": _rate("THROTTLE_UPLOAD_RATE", "60/hour"),  # per user: new books, chapter texts
}
# Proxies in front of the app whose X-Forwarded-For is believed (DRF's NUM_PROXIES); 0: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# --- Celery: background jobs, e.g. cache warming (config.celery) -------------------


def _redis_database_beside(url):
    """The same Redis server as url, on the next database number (/0 -> /1): the broker's own."""
    parts = urlsplit(url)
    if parts.scheme in {"redis", "rediss"}:
        number = int(parts.path.strip("/") or 0)
        return urlunsplit(parts._replace(path=f"/{(number + 1) % 16}"))
    # unix:///path/redis.sock?db=0 (redis-py) is redis+socket:///path/redis.sock?virtual_host=1 to Celery.
    query = dict(parse_qsl(parts.query))
    query["virtual_host"] = str((int(query.pop("db", 0)) + 1) % 16)
    return f"redis+socket://{parts.netloc}{parts.path}?{urlencode(query)}"


# Through Sentinel the broker follows the primary too (kombu's sentinel:// transport).
_broker_url, _broker_options = (
    celery_redis(REDIS, db=(REDIS.db + 1) % 16) if REDIS.uses_sentinel else (_redis_database_beside(REDIS_URL), {})
)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=_broker_url)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing happens inside a request: a dead broker must fail it in seconds, not hang it.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# A job's message is acknowledged when the job ends, so a worker that dies mid-job leaves it to be
# delivered again (after the visibility timeout) instead of losing it; cacheadmin.jobs decides
# whether a delivered job still needs running. Job state lives in the database: no result backend.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **_broker_options,
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": 2,
}
CELERY_TIMEZONE = TIME_ZONE
# A running warm job writes a heartbeat this often; one silent for WARM_JOB_STALE_SECONDS
# (its worker died or was killed) is reported as failed.
WARM_JOB_HEARTBEAT_SECONDS = 5
WARM_JOB_STALE_SECONDS = env.int("WARM_JOB_STALE_SECONDS", default=60)

# --- REST framework -----------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cacheadmin.auth.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "books.parsers.SafeJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "cacheadmin.openapi.AutoSchema",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "cacheadmin.negotiation.ContentNegotiation",
    # Per-user read, write and upload rates; sign-in and registration add their own (reader.accounts).
    "DEFAULT_THROTTLE_CLASSES": [
        "cacheadmin.throttling.UserThrottle",
    ],
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "EXCEPTION_HANDLER": "cacheadmin.errors.api_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "reader API",
    "DESCRIPTION": (
        "Read your ebooks through an API. Clients send `Authorization: Bearer <token>` (from `auth/register/` "
        "or `auth/token/`). The whole contract, with the caching guarantees, limits and configuration, is "
        "docs/API.md in the repository."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Tags and operation ids from the path after the version: books, auth, admin.
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Request and response bodies as separate components: read-only fields only in answers,
    # write-only ones (passwords) only in requests, uploads as binary.
    "COMPONENT_SPLIT_REQUEST": True,
    # config.urls' `id` converter: 1 to 18 digits (longer ids answer 404).
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cacheadmin.openapi.require_every_answered_field",
    ],
}

# --- HTTPS and browser protections ------------------------------------------------------
# HTTPS=true behind TLS (usually a proxy that terminates it and sets X-Forwarded-Proto).
HTTPS = env.bool("HTTPS", default=False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes from inside the host or container speak plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The policy of every HTML page (the admin, the cache panel, the browsable API), in the shape of
# Django 6's SECURE_CSP; cacheadmin.middleware sends it. Scripts come from this site only, never
# inline. Inline styles are allowed: the admin's change lists and the browsable API's code
# highlighting use <style> elements, and its layout style attributes.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}
