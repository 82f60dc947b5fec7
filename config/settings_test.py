"""Test settings: the suite's own Redis database and key prefix, fast hashing.

The Celery worker the suite starts (tests/celery_worker.py) runs with these settings too;
it is handed the test process's key prefix, test database and queue through TEST_* variables.
"""

import os

# A key for the suite only (config.settings refuses to start without one while DEBUG is off).
os.environ.setdefault("SECRET_KEY", "test-suite-only-not-a-secret")

from config.redis_config import RedisTarget, redis_cache  # noqa: E402
from config.settings import *  # noqa: E402, F403
from config.settings import (  # noqa: E402
    DATABASES,
    REDIS_CACHE_DEFAULT_TTL,
    REDIS_CONNECT_TIMEOUT,
    REDIS_SOCKET_TIMEOUT,
    _cache_options,
    env,
)

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_run = f"{_worker}-{os.getpid()}"

# A Redis database of the suite's own, one server (never through Sentinel), never the one
# `make run` uses; one prefix per test process, so runs side by side never see each other's keys
# (a Celery worker started by the suite is given the prefix of its test process).
REDIS = RedisTarget(
    url=env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/13"),
    socket_timeout=REDIS_SOCKET_TIMEOUT,
    connect_timeout=REDIS_CONNECT_TIMEOUT,
)
_prefix = env("TEST_CACHE_KEY_PREFIX", default=f"readertest-{_run}")
CACHES = {
    "default": redis_cache(
        REDIS,
        key_prefix=_prefix,
        timeout=REDIS_CACHE_DEFAULT_TTL,
        options=_cache_options,
        connection_factory="cacheadmin.connections.ConnectionFactory",
    ),
    "throttle": redis_cache(REDIS, key_prefix=f"{_prefix}-throttle"),
}
REDIS_REPLICA_WAIT_MS = 0  # no replica here; tests that have one turn it on
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = env.path("TEST_MEDIA_ROOT", default=f"/tmp/reader-test-media-{_worker}")
# Background work runs in the request in tests, so they stay deterministic.
REDIS_CACHE_RELAY_SECONDS = 0

# The task queue: a broker database of the suite's own and one queue per test process.
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL", default="redis://127.0.0.1:6379/14")
CELERY_TASK_DEFAULT_QUEUE = env("TEST_CELERY_QUEUE", default=f"readertest-{_run}")
# A worker started by the suite uses the test process's database (pytest-django's test_… name).
if env("TEST_DB_NAME", default=""):
    DATABASES["default"]["NAME"] = env("TEST_DB_NAME")
elif DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not SQLite's default in-memory test database, so the worker can open it too.
    DATABASES["default"]["TEST"] = {"NAME": f"/tmp/reader-test-{_run}.sqlite3"}

# The suite's workers mark their jobs alive twice a second (tests check it within one long book).
WARM_JOB_HEARTBEAT_SECONDS = 0.5
