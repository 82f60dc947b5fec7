"""Settings for reader: every value comes from the environment (see README)."""

from pathlib import Path

import environ
from redis.backoff import NoBackoff
from redis.retry import Retry

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

# --- Redis response cache (cacheadmin.cache) ---------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
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
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.25)
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=0.25)

_redis_options = {
    "CLIENT_CLASS": "django_redis.client.DefaultClient",
    # Stored answers are bytes and small dicts: msgpack keeps them compact and,
    # unlike pickle, cannot run code if someone else writes to Redis.
    "SERIALIZER": "django_redis.serializers.msgpack.MSGPackSerializer",
    "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT,
    "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
    "CONNECTION_POOL_KWARGS": {
        "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=50),
        # One attempt: the circuit breaker, not redis-py, decides when to try again.
        "retry": Retry(NoBackoff(), 0),
    },
}
if env.bool("REDIS_CACHE_COMPRESS", default=False):
    _redis_options["COMPRESSOR"] = "django_redis.compressors.zlib.ZlibCompressor"

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("REDIS_KEY_PREFIX", default="reader"),
        "TIMEOUT": REDIS_CACHE_DEFAULT_TTL,
        "OPTIONS": _redis_options,
    }
}

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}
