"""Bodies over their limit answer 413 on every endpoint (API.md, "Limits and abuse protection").

Uploads (a new book, a chapter's text) may be as large as BOOK_MAX_UPLOAD_MB, every other
body API_MAX_BODY_KB. The answer is JSON (HTML under the admin) and nothing is logged as an
error; the body is never read.
"""

import json
import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.factories import UserFactory, make_book

pytestmark = pytest.mark.django_db(transaction=True)

KB = 1024


@pytest.fixture
def small_limits(settings):
    settings.API_MAX_BODY_KB = 4
    settings.BOOK_MAX_UPLOAD_MB = 1


@pytest.fixture
def client(user):
    """The user's client, answering 500s instead of raising them in the test."""
    return client_for(user, raise_request_exception=False)


def json_body(size):
    """A JSON object of exactly `size` bytes."""
    head = b'{"padding": "'
    tail = b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def endpoints(book_id):
    base = f"/api/v1/books/{book_id}"
    return [
        ("patch", f"{base}/"),
        ("put", f"{base}/"),
        ("put", f"{base}/progress/"),
        ("post", f"{base}/progress/"),
        ("post", f"{base}/descriptions/"),
        ("delete", f"{base}/descriptions/1/"),
        ("post", "/api/v1/auth/register/"),
        ("post", "/api/v1/auth/token/"),
        ("post", "/api/v1/auth/logout/"),
        ("post", "/api/v1/auth/password/"),
        ("post", "/api/v1/admin/cache/warm/"),
        ("delete", "/api/v1/admin/cache/clear/"),
        ("generic GET", "/api/v1/books/"),
    ]


def assert_413(response):
    assert response.status_code == 413, (response.status_code, response.content[:200])
    assert response["Content-Type"].startswith("application/json")
    assert "larger than this endpoint accepts" in response.json()["detail"]


@pytest.mark.parametrize("index", range(len(endpoints(0))))
def test_every_endpoint_answers_413_above_the_body_limit(client, user, small_limits, caplog, index):
    book = make_book(user)
    method, path = endpoints(book.pk)[index]
    with caplog.at_level(logging.WARNING):
        if method.startswith("generic"):
            response = client.generic(method.split()[1], path, json_body(4 * KB + 1), content_type="application/json")
        else:
            response = getattr(client, method)(path, json_body(4 * KB + 1), content_type="application/json")
    assert_413(response)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert user.auth_token.key  # not even logout ran


def test_a_body_at_the_limit_is_read(client, user, small_limits):
    book = make_book(user, chapters=3)
    body = {"chapter": 2, "position": 0.5, "cfi": "x" * 10}
    raw = json.dumps(body).encode()
    padded = raw[:-1] + b", " + b'"cfi": "' + b"y" * (4 * KB - len(raw) - 11) + b'"}'
    assert len(padded) == 4 * KB
    response = client.put(f"/api/v1/books/{book.pk}/progress/", padded, content_type="application/json")
    assert response.status_code == 400  # read: the cfi is too long for the field, not too large a body
    assert "cfi" in response.json()


def test_anonymous_big_bodies_are_413_too(small_limits):
    anon = APIClient()
    assert_413(anon.post("/api/v1/auth/token/", json_body(5 * KB), content_type="application/json"))
    assert_413(anon.post("/api/v1/books/1/progress/", json_body(5 * KB), content_type="application/json"))


def test_uploads_may_be_larger_than_other_bodies(client, user, small_limits):
    chapters = [{"title": f"Chapter {n}", "content": "<p>" + "word " * 2000 + "</p>"} for n in range(1, 4)]
    body = json.dumps({"title": "Big", "chapters": chapters}).encode()
    assert 4 * KB < len(body) < 1024 * KB
    assert client.post("/api/v1/books/", body, content_type="application/json").status_code == 201

    book = user.books.get()
    text = json.dumps({"content": "<p>" + "new " * 3000 + "</p>"}).encode()
    assert (
        client.patch(f"/api/v1/books/{book.pk}/chapters/1/", text, content_type="application/json").status_code == 200
    )


def test_uploads_above_the_upload_limit_are_413(client, user, small_limits):
    assert_413(client.post("/api/v1/books/", json_body(1024 * KB + 1), content_type="application/json"))
    book = make_book(user)
    assert_413(
        client.patch(f"/api/v1/books/{book.pk}/chapters/1/", json_body(1024 * KB + 1), content_type="application/json")
    )
    assert user.books.count() == 1


def test_a_multipart_upload_above_the_limit_is_413(client, small_limits):
    from django.core.files.uploadedfile import SimpleUploadedFile

    big = SimpleUploadedFile("big.epub", b"x" * (1024 * KB + 10), content_type="application/epub+zip")
    assert_413(client.post("/api/v1/books/", {"file": big}, format="multipart"))


def test_djangos_own_limit_is_a_413_too_never_a_400_with_a_traceback(client, settings, caplog):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * KB  # below the upload limit: Django's check answers first
    chapters = [{"title": "One", "content": "<p>" + "word " * 1000 + "</p>"}]
    with caplog.at_level(logging.WARNING):
        response = client.post("/api/v1/books/", {"title": "T", "chapters": chapters}, format="json")
    assert_413(response)
    assert not [r for r in caplog.records if r.exc_info]


def test_a_content_length_that_is_no_number_is_400(client, user):
    book = make_book(user)
    response = client.generic(
        "PUT", f"/api/v1/books/{book.pk}/progress/", b"{}", content_type="application/json", CONTENT_LENGTH="lots"
    )
    assert response.status_code == 400
    assert response.json()["detail"]


# --- the Django admin ------------------------------------------------------------------


def test_the_admin_login_takes_small_forms_only(small_limits):
    response = Client().post("/admin/login/", {"username": "x", "password": "y" * 5000})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")


def test_staff_forms_in_the_admin_may_carry_uploads(small_limits, user):
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    book = make_book(user)
    response = admin.post(f"/admin/books/book/{book.pk}/change/", {"description": "d" * (8 * KB)})
    assert response.status_code == 200  # the form answers (with its errors): the body was read
    response = admin.post(f"/admin/books/book/{book.pk}/change/", {"description": "d" * (1024 * KB + 1)})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
