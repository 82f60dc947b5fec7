"""config.redis_config: what the settings hand django-redis and Celery, with and without Sentinel.

Plain functions of their arguments: no Redis needed (the Sentinel tests run against real ones).
"""

import os
import subprocess
import sys

import pytest

from config.redis_config import RedisConfigError, RedisTarget, celery_redis, parse_sentinels, redis_cache
from tests.gunicorn_server import ROOT

SENTINELS = (("s1", 26379), ("s2", 26380), ("10.0.0.3", 26381))


def sentinel_target(**fields):
    return RedisTarget(url="redis://:s%40cret@ignored:6379/4", sentinels=SENTINELS, master="reader", **fields)


def test_parse_sentinels():
    assert parse_sentinels("s1:26379, s2:26380,10.0.0.3:26381") == list(SENTINELS)
    assert parse_sentinels("s1") == [("s1", 26379)]
    assert parse_sentinels("") == []
    for bad in ("s1:port", ":26379"):
        with pytest.raises(RedisConfigError, match="host:port"):
            parse_sentinels(bad)


def test_a_target_without_sentinels_keeps_redis_url():
    target = RedisTarget(url="redis://:pw@redis:6379/3?health_check_interval=5")
    assert not target.uses_sentinel
    assert target.db == 3
    assert target.url_for(1) == "redis://:pw@redis:6379/1?health_check_interval=5"
    entry = redis_cache(target, key_prefix="reader", timeout=60)
    assert entry["LOCATION"] == target.url  # unchanged
    assert entry["OPTIONS"]["CLIENT_CLASS"] == "django_redis.client.DefaultClient"
    assert "SENTINELS" not in entry["OPTIONS"]
    assert celery_redis(target, 1) == ("redis://:pw@redis:6379/1?health_check_interval=5", {})


def test_sentinel_cache_reads_and_writes_the_primary_only_with_short_timeouts():
    entry = redis_cache(sentinel_target(socket_timeout=0.2, connect_timeout=0.1), key_prefix="reader", timeout=60)
    options = entry["OPTIONS"]
    # One URL in a list: SentinelClient makes no replica pool; the host is the master's name.
    assert entry["LOCATION"] == ["redis://:s%40cret@reader/4"]
    assert options["CLIENT_CLASS"] == "django_redis.client.SentinelClient"
    assert options["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert options["SENTINELS"] == list(SENTINELS)
    assert (options["SOCKET_TIMEOUT"], options["SOCKET_CONNECT_TIMEOUT"]) == (0.2, 0.1)
    assert options["CONNECTION_POOL_KWARGS"]["retry"].get_retries() == 0
    sentinel = options["SENTINEL_KWARGS"]
    assert (sentinel["socket_timeout"], sentinel["socket_connect_timeout"]) == (0.2, 0.1)
    assert sentinel["retry"].get_retries() == 0  # a dead sentinel costs one attempt, not a backoff
    assert "password" not in sentinel


def test_a_second_alias_through_sentinel_on_a_database_of_its_own():
    entry = redis_cache(sentinel_target(sentinel_password="sp"), db=2, key_prefix="throttle", options={"X": 1})
    assert entry["LOCATION"] == ["redis://:s%40cret@reader/2"]
    assert entry["KEY_PREFIX"] == "throttle"
    assert entry["OPTIONS"]["X"] == 1
    assert entry["OPTIONS"]["SENTINEL_KWARGS"]["password"] == "sp"
    merged = redis_cache(sentinel_target(), key_prefix="t", options={"CONNECTION_POOL_KWARGS": {"max_connections": 7}})
    assert merged["OPTIONS"]["CONNECTION_POOL_KWARGS"]["max_connections"] == 7
    assert merged["OPTIONS"]["CONNECTION_POOL_KWARGS"]["retry"].get_retries() == 0


def test_celery_through_sentinel():
    url, options = celery_redis(sentinel_target(), 1)
    assert (
        url == "sentinel://:s%40cret@s1:26379/1;sentinel://:s%40cret@s2:26380/1;sentinel://:s%40cret@10.0.0.3:26381/1"
    )
    assert options == {"master_name": "reader"}
    assert celery_redis(sentinel_target(sentinel_password="sp"), 1)[1]["sentinel_kwargs"] == {"password": "sp"}


def test_a_target_refuses_what_cannot_work():
    with pytest.raises(RedisConfigError, match="REDIS_SENTINEL_MASTER"):
        RedisTarget(url="redis://r:6379/0", sentinels=SENTINELS)
    with pytest.raises(RedisConfigError, match="redis://"):
        RedisTarget(url="rediss://r:6379/0", sentinels=SENTINELS, master="reader")


def settings_with(**env):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    environment["SECRET_KEY"] = "a-secret-key-for-this-test-only-" * 2  # settings may refuse to start without one
    code = (
        "import config.settings as s; cache = s.CACHES['default']; "
        "print(cache['OPTIONS']['CONNECTION_FACTORY'], s.REDIS_REPLICA_WAIT_MS, cache['LOCATION'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**environment, **env}, capture_output=True, text=True, timeout=60
    )


def test_settings_follow_the_environment():
    plain = settings_with()
    assert plain.stdout.split() == ["cacheadmin.connections.ConnectionFactory", "0", "redis://127.0.0.1:6379/0"]
    through = settings_with(REDIS_SENTINELS="s1:26379,s2:26379", REDIS_SENTINEL_MASTER="reader")
    assert through.stdout.split() == ["cacheadmin.connections.SentinelConnectionFactory", "100", "['redis://reader/0']"]
    missing = settings_with(REDIS_SENTINELS="s1:26379")
    assert missing.returncode != 0 and "REDIS_SENTINEL_MASTER" in missing.stderr
    too_long = settings_with(REDIS_REPLICA_WAIT_MS="300")
    assert too_long.returncode != 0 and "REDIS_REPLICA_WAIT_MS" in too_long.stderr
    no_acks = settings_with(REDIS_REPLICA_ACKS="0")
    assert no_acks.returncode != 0 and "REDIS_REPLICA_ACKS" in no_acks.stderr
