"""Limits under gunicorn: chunked and oversized bodies, throttles shared by the workers."""

import http.client
import json

import pytest
from django.db import connection

from tests.factories import make_book
from tests.gunicorn_server import Gunicorn

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.fault,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="gunicorn needs a database it can share"),
]


@pytest.fixture
def server(own_redis, tmp_path):
    env = {
        "SECRET_KEY": "e2e-test-only",
        "REDIS_URL": own_redis.url,
        "MEDIA_ROOT": str(tmp_path),
        "API_MAX_BODY_KB": "16",
        "THROTTLE_AUTH_RATE": "6/min",
        "THROTTLE_LOGIN_USER_RATE": "off",
    }
    server = Gunicorn(env, tmp_path / "gunicorn.log", workers=3).start()
    yield server.port
    server.stop()


def send(port, method, path, body, token=None, chunked=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if chunked:
        pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
        conn.request(method, path, body=iter(pieces), headers=headers, encode_chunked=True)
    else:
        conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    answer = response.status, response.getheader("Content-Type"), response.read()
    conn.close()
    return answer


def test_a_chunked_body_is_read_like_any_other(server, user):
    book = make_book(user, chapters=3)
    body = json.dumps({"chapter": 2, "position": 0.25}).encode()
    status, _, content = send(server, "PUT", f"/api/v1/books/{book.pk}/progress/", body, user.auth_token.key, True)
    assert status == 200, content
    assert json.loads(content)["chapter"] == 2


def test_a_chunked_body_over_the_limit_is_413(server, user):
    book = make_book(user, chapters=3)
    body = b'{"chapter": 2, "position": 0.25, "cfi": "' + b"x" * 20_000 + b'"}'
    status, content_type, content = send(
        server, "PUT", f"/api/v1/books/{book.pk}/progress/", body, user.auth_token.key, True
    )
    assert status == 413
    assert content_type.startswith("application/json")
    assert json.loads(content)["detail"]


def test_a_body_far_over_the_limit_gets_its_413(server, user):
    book = make_book(user, chapters=3)
    body = b"x" * (8 * 1024 * 1024)
    for path in (f"/api/v1/books/{book.pk}/progress/", "/api/v1/auth/token/", "/api/v1/auth/register/"):
        try:
            status, _, content = send(server, "POST", path, body, user.auth_token.key)
        except (BrokenPipeError, ConnectionResetError):
            pytest.fail(f"{path}: the connection was cut before the 413 arrived")
        assert status == 413, (path, status, content[:200])


def test_sign_in_attempts_are_counted_across_workers(server, user):
    body = json.dumps({"username": user.username, "password": "wrong"}).encode()
    answers = [send(server, "POST", "/api/v1/auth/token/", body)[0] for _ in range(12)]
    assert answers[:6] == [400] * 6
    assert set(answers[6:]) == {429}
