"""config/celery.py and the CELERY_ settings: the broker on a Redis database of its own."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config import settings as base_settings
from config.celery import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("redis_url", "broker"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/1"),
        ("redis://:secret@redis:6379/0", "redis://:secret@redis:6379/1"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/1"),
        ("rediss://cache.example:6380/3", "rediss://cache.example:6380/4"),
        ("redis://redis/15", "redis://redis/0"),
        ("unix:///run/redis.sock?db=2", "redis+socket:///run/redis.sock?virtual_host=3"),
        ("unix:///run/redis.sock", "redis+socket:///run/redis.sock?virtual_host=1"),
    ],
)
def test_the_broker_is_redis_urls_server_on_the_next_database(redis_url, broker):
    assert base_settings._redis_database_beside(redis_url) == broker


def settings_in_a_fresh_process(**env):
    code = "import django; django.setup(); from config.celery import app; print(app.conf.broker_url)"
    environ = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "REDIS_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_the_broker_follows_redis_url_unless_set():
    assert settings_in_a_fresh_process() == "redis://127.0.0.1:6379/1"
    assert settings_in_a_fresh_process(REDIS_URL="redis://:pw@cache:6379/2") == "redis://:pw@cache:6379/3"
    chosen = "redis://queue.example:6379/5"
    assert settings_in_a_fresh_process(REDIS_URL="redis://cache:6379/0", CELERY_BROKER_URL=chosen) == chosen


def test_the_celery_app_takes_djangos_celery_settings():
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.task_default_queue == settings.CELERY_TASK_DEFAULT_QUEUE
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_ignore_result is True


def test_the_warm_task_is_registered():
    app.loader.import_default_modules()
    assert "cacheadmin.warm" in app.tasks


def test_the_suites_broker_is_not_the_caches_database():
    assert settings.CELERY_BROKER_URL.rsplit("/", 1)[-1] != settings.CACHES["default"]["LOCATION"].rsplit("/", 1)[-1]
