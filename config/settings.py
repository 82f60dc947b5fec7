"""Settings for reader: every value comes from the environment (see README)."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.redis_config import RedisConfigError, RedisTarget, parse_sentinels, redis_cache

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-set-SECRET_KEY-in-production")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "books",
    "reader",
    "cacheadmin",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's and the browsable API's static files under gunicorn, DEBUG off.
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
# JSON books arrive in the body, so the body may be as large as an upload.
DATA_UPLOAD_MAX_MEMORY_SIZE = BOOK_MAX_UPLOAD_MB * 1024 * 1024
EPUB_MAX_UNCOMPRESSED_MB = env.int("EPUB_MAX_UNCOMPRESSED_MB", default=300)
EPUB_MAX_ENTRIES = env.int("EPUB_MAX_ENTRIES", default=5000)

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
# How often each process checks for invalidations that could not reach Redis.
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

CACHES = {
    # Each new connection of the response cache is checked before its first command
    # (cacheadmin.connections): a server that is not the one the data was written on retires
    # every stored answer first.
    "default": redis_cache(
        REDIS,
        key_prefix=env("REDIS_KEY_PREFIX", default="reader"),
        timeout=REDIS_CACHE_DEFAULT_TTL,
        options=_cache_options,
        connection_factory="cacheadmin.connections."
        + ("SentinelConnectionFactory" if REDIS.uses_sentinel else "ConnectionFactory"),
    )
}
# Every other Redis user is built from REDIS as well, so it follows the primary through a
# failover too (plain django-redis connections, a database of its own), e.g.:
#   CACHES["throttle"] = redis_cache(REDIS, db=2, key_prefix="throttle")
#   CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = celery_redis(REDIS, db=1)

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
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "reader API",
    "DESCRIPTION": "Read your ebooks through an API. The contract is shared/API.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}
