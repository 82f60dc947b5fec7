"""Test settings: the suite's own Redis database and key prefix, fast hashing."""

import os

from config.redis_config import RedisTarget, redis_cache
from config.settings import *  # noqa: F403
from config.settings import REDIS_CACHE_DEFAULT_TTL, REDIS_CONNECT_TIMEOUT, REDIS_SOCKET_TIMEOUT, _cache_options, env

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_run = f"{_worker}-{os.getpid()}"

# A Redis database of the suite's own, one server (never through Sentinel), never the one
# `make run` uses; one prefix per test process, so runs side by side never see each other's keys.
REDIS = RedisTarget(
    url=env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/13"),
    socket_timeout=REDIS_SOCKET_TIMEOUT,
    connect_timeout=REDIS_CONNECT_TIMEOUT,
)
CACHES = {
    "default": redis_cache(
        REDIS,
        key_prefix=f"readertest-{_run}",
        timeout=REDIS_CACHE_DEFAULT_TTL,
        options=_cache_options,
        connection_factory="cacheadmin.connections.ConnectionFactory",
    )
}
REDIS_REPLICA_WAIT_MS = 0  # no replica here; tests that have one turn it on
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = env.path("TEST_MEDIA_ROOT", default=f"/tmp/reader-test-media-{_worker}")
# Background work runs in the request in tests, so they stay deterministic.
REDIS_CACHE_RELAY_SECONDS = 0
