"""Races between readers and writers: no stale set, one build per stampede."""

import threading

import pytest
from django.db import connection

from books import services
from books.cached import BOOK, CHAPTER, book_generation
from books.models import Visibility
from cacheadmin.cache import HIT, MISS, response_cache
from cacheadmin.responses import compute
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reader_held_between_its_read_and_its_store_cannot_leave_a_stale_answer(api, user):
    book = make_book(user, title="Old title", visibility=Visibility.PUBLIC)
    params = {"book_id": book.pk}
    read_done, write_done = threading.Event(), threading.Event()

    def slow_compute():
        answer = compute(BOOK, params)()  # reads the database now...
        read_done.set()
        write_done.wait(5)  # ...and stores only after the writer committed
        return answer

    def reader():
        try:
            response_cache.fetch(BOOK, params, slow_compute)
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    assert read_done.wait(5)
    services.update_book(book, title="New title")
    write_done.set()
    thread.join(5)

    assert response_cache.lookup(BOOK, params)[0] is None  # the late store does not validate
    response = api.get(f"/api/v1/books/{book.pk}/")
    assert (response["X-Cache"], response.json()["title"]) == ("MISS", "New title")


def test_concurrent_misses_build_once(user, settings):
    settings.REDIS_CACHE_LEASE_WAIT_SECONDS = 10  # the waiters outlast the slow build, however busy the machine
    book = make_book(user, chapters=2)
    params = {"book_id": book.pk, "number": 1}
    builds = []
    start = threading.Barrier(8)
    results = []

    def counted_compute():
        builds.append(1)
        threading.Event().wait(0.2)  # a slow build, so the others arrive while it runs
        return compute(CHAPTER, params)()

    def reader():
        try:
            start.wait(5)
            results.append(response_cache.fetch(CHAPTER, params, counted_compute))
        finally:
            connection.close()

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(builds) == 1, (results, response_cache.breaker.trips)
    assert len(results) == 8
    assert sorted(outcome for _, outcome in results) == [HIT] * 7 + [MISS]
    assert len({entry.payload for entry, _ in results}) == 1


def test_waiters_fall_back_to_the_database_when_the_lease_holder_is_gone(user):
    book = make_book(user, title="Fallback")
    params = {"book_id": book.pk}
    assert response_cache.take_lease(BOOK, params)  # a holder that never stores

    entry, outcome = response_cache.fetch(BOOK, params, compute(BOOK, params))

    assert outcome == MISS
    assert b"Fallback" in entry.payload


def test_an_answer_tagged_with_a_vanished_generation_never_validates(user):
    book = make_book(user, title="Tagged")
    params = {"book_id": book.pk}
    response_cache.fetch(BOOK, params, compute(BOOK, params))
    assert response_cache.lookup(BOOK, params)[0] is not None

    # As if Redis evicted the generation: the stored answer must not be trusted.
    response_cache.run(lambda client: client.delete(response_cache.name(book_generation(book.pk))))

    assert response_cache.lookup(BOOK, params)[0] is None
