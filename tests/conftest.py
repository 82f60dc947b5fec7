import contextlib
import time

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from cacheadmin import throttling
from cacheadmin.cache import response_cache
from cacheadmin.models import WarmJob
from tests import cacheadmin_support
from tests.celery_worker import CeleryWorker, forget_queue
from tests.factories import UserFactory
from tests.redis_server import RedisServer


def as_a_fresh_worker():
    """This process forgets any Redis failure, like a worker that never saw the outage."""
    response_cache.breaker.succeeded()
    response_cache.relay.pending = False


@pytest.fixture(autouse=True, scope="session")
def _remove_this_runs_keys():
    yield
    cache.delete_pattern("*")  # only keys under this run's own prefix
    caches["throttle"].delete_pattern("*")
    with contextlib.suppress(Exception):  # and this run's queue, with any job no worker took
        forget_queue(settings.CELERY_TASK_DEFAULT_QUEUE)


def record_this_server():
    """Have Redis record which server it is now (cacheadmin.connections does it on a new
    connection when the record is missing, retiring every answer): not on a connection some
    thread of the test opens halfway through."""
    client = get_redis_connection("default")
    client.connection_pool.disconnect()
    client.ping()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with its own key prefix empty and a closed breaker."""
    cache.delete_pattern("*")
    record_this_server()
    as_a_fresh_worker()
    response_cache.stats.take()
    fresh_throttles()
    yield


def fresh_throttles():
    """Every throttle counter of this run at zero, in Redis and in this process's memory."""
    caches["throttle"].delete_pattern("*")
    throttling.counter.memory.clear()
    throttling.counter.breaker.succeeded()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other(db):
    return UserFactory()


def staff_with(*codenames):
    """A staff member holding these cacheadmin permissions through a group (not a superuser)."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name="cache " + " ".join(codenames))
    group.permissions.set(Permission.objects.filter(content_type__app_label="cacheadmin", codename__in=codenames))
    member = UserFactory(is_staff=True)
    member.groups.add(group)
    return member


@pytest.fixture
def staff(db):
    """Staff who may administer the cache: `cacheadmin.manage_cache` through a group."""
    return staff_with("manage_cache")


@pytest.fixture
def plain_staff(db):
    """Staff without any cache permission: being staff is not enough."""
    return UserFactory(is_staff=True)


@pytest.fixture
def stats_viewer(db):
    """Staff who may only look at the statistics: `cacheadmin.view_cache_stats`."""
    return staff_with("view_cache_stats")


def client_for(user, raise_request_exception=True):
    """The user's API client (anonymous for None); raise_request_exception=False answers a 500
    as the server would, instead of raising the view's exception in the test."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {user.auth_token.key}")
    client.raise_request_exception = raise_request_exception
    return client


@pytest.fixture
def api(user):
    return client_for(user)


@pytest.fixture
def other_api(other):
    return client_for(other)


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def own_redis(settings, tmp_path):
    """The cache pointed at a redis-server of this test's own, which it may break."""
    server = RedisServer(tmp_path)
    server.start()
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": server.url}}
    yield server
    server.stop()
    as_a_fresh_worker()


@pytest.fixture
def foreign():
    """Keys of other programs in the same Redis database, which no clear may touch."""
    names = cacheadmin_support.plant_foreign_keys()
    yield names
    cacheadmin_support.remove_keys(names)


@pytest.fixture
def redis_down(settings):
    """The cache pointed at a port where no Redis listens."""
    cacheadmin_support.point_cache_at_dead_redis(settings)
    yield
    as_a_fresh_worker()


@pytest.fixture(scope="session")
def _celery_worker(django_db_setup, tmp_path_factory):
    """The suite's Celery worker, started on first use (see tests/celery_worker.py)."""
    worker = CeleryWorker(tmp_path_factory.mktemp("celery") / "worker.log").start()
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker(_celery_worker, transactional_db):
    """A real worker taking this test's jobs; every job has ended before the next test."""
    yield _celery_worker
    deadline = time.monotonic() + 120
    while WarmJob.objects.filter(state__in=[WarmJob.State.QUEUED, WarmJob.State.RUNNING]).exists():
        if time.monotonic() > deadline or not _celery_worker.alive():
            break
        time.sleep(0.05)
