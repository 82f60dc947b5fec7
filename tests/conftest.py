import pytest
from django.core.cache import cache
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from cacheadmin.cache import response_cache
from tests import cacheadmin_support
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
    yield


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


def client_for(user):
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {user.auth_token.key}")
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
