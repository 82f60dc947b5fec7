"""Test settings: the suite's own Redis database and key prefix, fast hashing."""

import os

from config.settings import *  # noqa: F403
from config.settings import CACHES, env

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_run = f"{_worker}-{os.getpid()}"

# A Redis database of the suite's own; never the one `make run` uses.
CACHES["default"]["LOCATION"] = env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/13")
# One prefix per test process, so runs side by side never see each other's keys.
CACHES["default"]["KEY_PREFIX"] = f"readertest-{_run}"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = env.path("TEST_MEDIA_ROOT", default=f"/tmp/reader-test-media-{_worker}")
# Background work runs in the request in tests, so they stay deterministic.
REDIS_CACHE_RELAY_SECONDS = 0
