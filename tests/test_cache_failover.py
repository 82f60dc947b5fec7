"""A failover or a restart never serves an answer older than an acknowledged write.

Two mechanisms, each tested alone: every new connection checks that its server is the one the
answers were written on (cacheadmin.connections), and, with REDIS_REPLICA_WAIT_MS, a retirement
no replica acknowledged is counted for the relay.
"""

import pytest
from django.core.cache import caches

from books.models import Visibility
from cacheadmin.cache import response_cache
from cacheadmin.models import InvalidationLog
from config.redis_config import RedisTarget, redis_cache
from tests.conftest import as_a_fresh_worker
from tests.factories import make_book
from tests.redis_server import SENTINEL_MASTER, RedisServer, SentinelGroup, free_port, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fault]


@pytest.fixture
def book(user):
    return make_book(user, title="Before", chapters=1, visibility=Visibility.PUBLIC)


def cache_on(settings, target, factory):
    current = settings.CACHES["default"]
    settings.CACHES = {
        **settings.CACHES,
        "default": redis_cache(
            target,
            key_prefix=current["KEY_PREFIX"],
            timeout=current["TIMEOUT"],
            options={"SERIALIZER": current["OPTIONS"]["SERIALIZER"]},
            connection_factory=f"cacheadmin.connections.{factory}",
        ),
    }


def generation(client, book):
    return client.get(response_cache.name(f"gen:book:{book.pk}"))


def cached_title(client, url):
    response = client.get(url)
    return response["X-Cache"], response.json()["title"]


@pytest.fixture
def sentinels(settings, tmp_path):
    group = SentinelGroup(tmp_path)
    group.start()
    sentinels = tuple(("127.0.0.1", port) for port in group.sentinel_ports)
    target = RedisTarget(url="redis://127.0.0.1:6379/0", sentinels=sentinels, master=SENTINEL_MASTER)
    cache_on(settings, target, "SentinelConnectionFactory")
    yield group
    group.stop()
    as_a_fresh_worker()


def test_an_idle_process_never_serves_a_write_the_failover_lost(sentinels, settings, api, other_api, book):
    settings.REDIS_REPLICA_WAIT_MS = 0  # the connection check alone
    url = f"/api/v1/books/{book.pk}/"
    other_api.get(url)
    assert cached_title(other_api, url) == ("HIT", "Before")
    primary, replica = sentinels.primary.client(), sentinels.replica.client()
    assert wait_until(lambda: generation(replica, book) == generation(primary, book), 5)
    # The replica falls behind (its link broken), so it never receives the next write.
    replica.replicaof("127.0.0.1", free_port())

    assert api.patch(url, {"title": "After"}, format="json").status_code == 200
    assert generation(primary, book) != generation(replica, book)  # acknowledged, held by the primary only
    sentinels.primary.kill()
    assert sentinels.wait_for_failover()
    as_a_fresh_worker()  # this process saw no error: its pooled connection is replaced on next use
    trips, missed = response_cache.breaker.trips, InvalidationLog.missed_count()

    assert cached_title(other_api, url) == ("MISS", "After")
    assert cached_title(other_api, url) == ("HIT", "After")  # caching on the new primary
    assert (response_cache.breaker.trips, InvalidationLog.missed_count()) == (trips, missed)  # the check did it
    assert len(caches["default"].client._clients) == 1  # one pool, the primary's: never a replica


def test_a_restarted_server_with_older_data_is_retired_before_the_first_answer(
    settings, tmp_path, api, other_api, book
):
    server = RedisServer(tmp_path, persist=False)
    server.start()
    cache_on(settings, RedisTarget(url=server.url), "ConnectionFactory")
    try:
        url = f"/api/v1/books/{book.pk}/"
        other_api.get(url)
        assert cached_title(other_api, url) == ("HIT", "Before")
        older = server.snapshot("older.rdb")  # what a replica that missed the write would hold
        assert api.patch(url, {"title": "After"}, format="json").status_code == 200
        server.kill()
        server.start(dbfilename=older)  # same address, a new run_id, the old answer and generations
        as_a_fresh_worker()

        assert cached_title(other_api, url) == ("MISS", "After")
        assert cached_title(other_api, url) == ("HIT", "After")
    finally:
        server.kill()
        as_a_fresh_worker()


def wait_calls(server):
    return server.client().info("commandstats").get("cmdstat_wait", {}).get("calls", 0)


@pytest.fixture
def primary_and_replica(settings, tmp_path):
    primary = RedisServer(tmp_path, persist=False)
    primary.start()
    replica = RedisServer(tmp_path, persist=False, replica_of=primary)
    replica.start()
    assert wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up", 10)
    cache_on(settings, RedisTarget(url=primary.url), "ConnectionFactory")
    settings.REDIS_REPLICA_WAIT_MS = 100
    yield primary, replica
    replica.kill()
    primary.kill()
    as_a_fresh_worker()


def test_a_retirement_is_acknowledged_once_a_replica_holds_it(primary_and_replica, api, other_api, book):
    primary, replica = primary_and_replica
    url = f"/api/v1/books/{book.pk}/"
    other_api.get(url)
    missed, waits = InvalidationLog.missed_count(), wait_calls(primary)

    assert api.patch(url, {"title": "After"}, format="json").status_code == 200

    assert wait_calls(primary) == waits + 1  # the write asked the replica, once
    assert generation(replica.client(), book) == generation(primary.client(), book)
    assert InvalidationLog.missed_count() == missed  # it answered in time: nothing left to the relay
    assert cached_title(other_api, url) == ("MISS", "After")


def test_a_retirement_no_replica_acknowledged_is_left_to_the_relay(primary_and_replica, api, other_api, user, book):
    primary, replica = primary_and_replica
    other_book = make_book(user, title="Untouched", chapters=1, visibility=Visibility.PUBLIC)
    url, other_url = f"/api/v1/books/{book.pk}/", f"/api/v1/books/{other_book.pk}/"
    other_api.get(other_url)
    assert cached_title(other_api, other_url) == ("HIT", "Untouched")
    missed = InvalidationLog.missed_count()
    replica.kill()

    assert api.patch(url, {"title": "After"}, format="json").status_code == 200

    assert InvalidationLog.missed_count() == missed + 1  # any next primary will retire everything
    assert cached_title(other_api, url) == ("MISS", "After")
    # The price: this primary retired everything too (the relay cannot tell which server is next).
    assert cached_title(other_api, other_url) == ("MISS", "Untouched")
