"""The real thing: gunicorn workers, a Redis that dies and comes back with its old data."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from books.models import Visibility
from tests.factories import make_book
from tests.redis_server import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.fault,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="gunicorn needs a database it can share"),
]

ROOT = Path(__file__).resolve().parent.parent


def database_url():
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def gunicorn(own_redis, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": own_redis.url,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "3",
        "MEDIA_ROOT": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(30)


def call(url, token, method="GET", body=None):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers.get("X-Cache"), json.loads(response.read() or b"null")


def test_no_worker_serves_an_old_answer_a_second_after_redis_returns_with_old_data(gunicorn, own_redis, user, other):
    book = make_book(user, title="Before the outage", visibility=Visibility.PUBLIC)
    url = f"{gunicorn}/api/v1/books/{book.pk}/"
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
