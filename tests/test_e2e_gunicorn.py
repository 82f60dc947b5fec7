"""The real thing: gunicorn workers, a Redis that dies and comes back with its old data."""

import time

import pytest
from django.db import connection

from books.models import Visibility
from tests.factories import make_book
from tests.gunicorn_server import call, gunicorn

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.fault,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="gunicorn needs a database it can share"),
]


@pytest.fixture
def server(own_redis, tmp_path):
    with gunicorn(tmp_path, workers=3, REDIS_URL=own_redis.url) as base:
        yield base


def test_no_worker_serves_an_old_answer_a_second_after_redis_returns_with_old_data(server, own_redis, user, other):
    book = make_book(user, title="Before the outage", visibility=Visibility.PUBLIC)
    url = f"{server}/api/v1/books/{book.pk}/"
    reader = other.auth_token.key
    answers = [call(url, reader) for _ in range(30)]  # spread over the workers
    assert {title for _, _, title in [(s, c, b["title"]) for s, c, b in answers]} == {"Before the outage"}
    assert sum(cache == "HIT" for _, cache, _ in answers) >= 20

    own_redis.stop()
    assert call(url, user.auth_token.key, "PATCH", {"title": "Written during the outage"})[0] == 200
    assert all(call(url, reader)[2]["title"] == "Written during the outage" for _ in range(10))
    own_redis.start()  # with its old data: the old answer, the old generations
    time.sleep(1.0)

    answers = [call(url, reader) for _ in range(30)]
    assert {body["title"] for _, _, body in answers} == {"Written during the outage"}
    assert "HIT" in {cache for _, cache, _ in answers}  # and caching resumed by itself
