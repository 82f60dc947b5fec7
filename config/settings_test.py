"""Test settings: the suite's own Redis database and key prefix, fast hashing."""

import os

# A key for the suite only (config.settings refuses to start without one while DEBUG is off).
os.environ.setdefault("SECRET_KEY", "test-suite-only-not-a-secret")

from config.settings import *  # noqa: E402, F403
from config.settings import CACHES, env  # noqa: E402

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_run = f"{_worker}-{os.getpid()}"

# A Redis database of the suite's own; never the one `make run` uses.
_test_redis = env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/13")
# One prefix per test process, so runs side by side never see each other's keys.
CACHES["default"]["LOCATION"] = _test_redis
CACHES["default"]["KEY_PREFIX"] = f"readertest-{_run}"
CACHES["throttle"]["LOCATION"] = _test_redis
CACHES["throttle"]["KEY_PREFIX"] = f"readertest-{_run}-throttle"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = env.path("TEST_MEDIA_ROOT", default=f"/tmp/reader-test-media-{_worker}")
# Background work runs in the request in tests, so they stay deterministic.
REDIS_CACHE_RELAY_SECONDS = 0
