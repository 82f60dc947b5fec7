"""Redis refusing, hung, or back with old data: answers stay correct, and caching resumes."""

import time

import pytest

from books.models import Visibility
from cacheadmin.cache import response_cache
from tests.conftest import as_a_fresh_worker
from tests.factories import make_book

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fault]


@pytest.fixture
def book(user):
    return make_book(user, title="Before", chapters=3, visibility=Visibility.PUBLIC)


def urls(book):
    base = f"/api/v1/books/{book.pk}"
    return ["/api/v1/books/", f"{base}/", f"{base}/chapters/", f"{base}/chapters/1/", f"{base}/progress/",
            f"{base}/descriptions/"]  # fmt: skip


def wait_until(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_redis_down_reads_answer_bypass_with_current_data_and_writes_succeed(own_redis, api, other_api, book, settings):
    settings.REDIS_CACHE_RETRY_SECONDS = 60
    cached = {url: other_api.get(url).json() for url in urls(book)}
    own_redis.stop()
    trips = response_cache.breaker.trips

    for url in urls(book):
        response = other_api.get(url)
        assert (response.status_code, response["X-Cache"]) == (200, "BYPASS"), url
        assert response.json() == cached[url]
    assert api.patch(f"/api/v1/books/{book.pk}/", {"title": "During"}, format="json").status_code == 200
    assert api.put(f"/api/v1/books/{book.pk}/progress/", {"chapter": 2, "position": 0.5}).status_code == 200
    assert other_api.get(f"/api/v1/books/{book.pk}/").json()["title"] == "During"
    assert api.get(f"/api/v1/books/{book.pk}/progress/").json()["chapter"] == 2
    # Reads paid one connection failure, the breaker kept the rest off Redis; each of the two
    # writes tried Redis once (a retirement never waits for the breaker).
    assert response_cache.breaker.trips == trips + 1 + 2
    assert api.get("/readyz").json() == {"database": "ok", "cache": "unavailable"}


def test_hung_redis_costs_one_timeout_per_interval_and_caching_resumes(own_redis, api, book, settings):
    settings.REDIS_CACHE_RETRY_SECONDS = 0.3
    url = f"/api/v1/books/{book.pk}/"
    assert api.get(url)["X-Cache"] == "MISS"
    trips = response_cache.breaker.trips

    own_redis.pause(1500)
    answers = [api.get(url) for _ in range(5)]

    assert [(a.status_code, a["X-Cache"], a.json()["title"]) for a in answers] == [(200, "BYPASS", "Before")] * 5
    assert response_cache.breaker.trips == trips + 1
    assert wait_until(lambda: api.get(url)["X-Cache"] == "HIT")


def test_invalidation_missed_while_redis_was_down_is_applied_when_it_returns_with_old_data(
    own_redis, api, other_api, book
):
    url = f"/api/v1/books/{book.pk}/"
    other_api.get(url)
    assert other_api.get(url)["X-Cache"] == "HIT"
    response_cache.relay.check()  # this process knows the server

    own_redis.stop()
    assert api.patch(url, {"title": "Written while Redis was down"}, format="json").status_code == 200
    own_redis.start()  # back with its saved data: the old answer and the old generations
    as_a_fresh_worker()

    assert response_cache.relay.check() is True
    response = other_api.get(url)
    assert (response["X-Cache"], response.json()["title"]) == ("MISS", "Written while Redis was down")
    assert other_api.get(url)["X-Cache"] == "HIT"


def test_a_restart_alone_retires_old_answers(own_redis, other_api, book):
    url = f"/api/v1/books/{book.pk}/"
    other_api.get(url)
    assert other_api.get(url)["X-Cache"] == "HIT"
    response_cache.relay.check()

    own_redis.restart()
    as_a_fresh_worker()  # the pooled connection is replaced silently: no error, no relay

    assert other_api.get(url)["X-Cache"] == "MISS"
    assert other_api.get(url)["X-Cache"] == "HIT"
    assert response_cache.relay.check() is False  # the new server was checked already: answers stay


def test_relay_thread_applies_a_missed_invalidation_within_a_second(own_redis, api, other_api, book, settings):
    settings.REDIS_CACHE_RELAY_SECONDS = 0.1
    url = f"/api/v1/books/{book.pk}/"
    other_api.get(url)
    assert other_api.get(url)["X-Cache"] == "HIT"
    response_cache.relay.ensure_running()
    try:
        own_redis.stop()
        api.patch(url, {"title": "Relayed"}, format="json")
        own_redis.start()
        as_a_fresh_worker()  # this process notices nothing: the relay thread must
        time.sleep(1.0)

        assert other_api.get(url).json()["title"] == "Relayed"
    finally:
        response_cache.relay.stop()
