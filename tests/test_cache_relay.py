"""The relay: one leader asks the database each round, whatever the number of processes; a process
that missed a retirement catches up itself; another takes over when the leader goes."""

import pytest

from books.models import Visibility
from cacheadmin.cache import LEADER_KEY, LEASE_ROUNDS, Relay, response_cache
from cacheadmin.models import InvalidationLog
from tests.cacheadmin_support import raw_redis
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)

ROUND = 2.0  # seconds: a lease of 6 s, longer than any of these tests


class Process(Relay):
    """The relay of another process: same cache, its own identity and lease, no thread."""

    interval = ROUND

    def ensure_running(self):
        pass


@pytest.fixture
def processes():
    """(the leader, another process); Redis has caught up with the database already."""
    leader, other = Process(response_cache), Process(response_cache)
    leader.tick()
    return leader, other


@pytest.fixture
def cached(user, other_api):
    book = make_book(user, title="Cached", chapters=1, visibility=Visibility.PUBLIC)
    url = f"/api/v1/books/{book.pk}/"
    other_api.get(url)
    assert other_api.get(url)["X-Cache"] == "HIT"
    return url


def test_one_process_leads_and_only_the_leader_asks_the_database(processes, django_assert_num_queries):
    leader, other = processes
    for _ in range(3):
        with django_assert_num_queries(0):
            assert other.tick() is False
        with django_assert_num_queries(1):
            leader.tick()  # renews its lease


def test_the_leader_applies_a_retirement_a_dead_process_counted(processes, cached, other_api):
    leader, other = processes
    InvalidationLog.record_miss()  # counted by a process that died before it reached Redis

    assert other.tick() is False  # not its business
    assert other_api.get(cached)["X-Cache"] == "HIT"
    assert leader.tick() is True
    assert other_api.get(cached)["X-Cache"] == "MISS"


def test_another_process_takes_over_when_the_leader_goes(processes, cached, other_api, django_assert_num_queries):
    leader, other = processes
    InvalidationLog.record_miss()
    assert other.tick() is False

    lease = raw_redis().pttl(response_cache.name(LEADER_KEY))
    assert ROUND * LEASE_ROUNDS * 1000 - 2000 < lease <= ROUND * LEASE_ROUNDS * 1000
    raw_redis().delete(response_cache.name(LEADER_KEY))  # the leader stopped renewing: the lease ran out

    with django_assert_num_queries(1):
        assert other.tick() is True
    assert other_api.get(cached)["X-Cache"] == "MISS"
    with django_assert_num_queries(0):
        assert leader.tick() is False  # back, but no longer leading


def test_a_process_that_missed_a_retirement_catches_up_without_leading(processes, cached, other_api):
    leader, other = processes
    InvalidationLog.record_miss()
    other.pending = True  # it is the one that could not reach Redis

    assert other.tick() is True
    assert other.pending is False
    assert other_api.get(cached)["X-Cache"] == "MISS"
