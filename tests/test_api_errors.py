"""Errors: whatever the request, never a 500 and always JSON (docs/API.md, Errors)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from books.models import Book
from tests.conftest import client_for
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(user):
    """The user's client, answering 500s instead of raising them in the test."""
    return client_for(user, raise_request_exception=False)


@pytest.fixture
def book(user):
    return make_book(user, chapters=3, visibility="public")


def assert_json_error(response):
    assert response.status_code != 500, response.content[:300]
    assert 400 <= response.status_code < 500, response.status_code
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    response.json()


def assert_json_answer(response):
    """Any status but 500, and a JSON body."""
    assert response.status_code != 500, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    response.json()


def write_endpoints(book_id):
    base = f"/api/v1/books/{book_id}/"
    return {
        "create book": ("post", "/api/v1/books/"),
        "patch book": ("patch", base),
        "put book": ("put", base),
        "patch chapter": ("patch", f"{base}chapters/1/"),
        "put progress": ("put", f"{base}progress/"),
        "post progress": ("post", f"{base}progress/"),
        "post description": ("post", f"{base}descriptions/"),
        "register": ("post", "/api/v1/auth/register/"),
        "token": ("post", "/api/v1/auth/token/"),
        "password": ("post", "/api/v1/auth/password/"),
    }


ENDPOINTS = list(write_endpoints(0))

DEEP = 100_000

GARBAGE = {
    "empty": b"",
    "whitespace": b"   \n ",
    "truncated object": b'{"title": "x", "chapters": [',
    "not json": b"hello there",
    "trailing junk": b'{"title": "x"} trailing',
    "list": b"[1, 2, 3]",
    "null": b"null",
    "number": b"42",
    "string": b'"a string"',
    "true": b"true",
    "NaN literal": b'{"chapter": NaN, "position": NaN, "percent": NaN, "title": NaN}',
    "Infinity literal": b'{"chapter": Infinity, "position": -Infinity}',
    "huge float": b'{"chapter": 1e999, "position": 1e999, "percent": -1e999, "text": 1e999}',
    "huge integer": (
        b'{"chapter": 1' + b"0" * 400 + b', "position": 1' + b"0" * 400 + b', "percent": 1' + b"0" * 400 + b"}"
    ),
    "too many digits": b'{"chapter": 1' + b"0" * 5000 + b"}",
    "int64 overflow": b'{"chapter": 9223372036854775808, "position": 0.5, "kind": "location", "text": "x"}',
    "nested junk": (
        b'{"title": {"a": [1, {"b": null}]}, "chapters": {"x": [[[]]]}, "chapter": {"n": [1]},'
        b' "position": [0.5], "kind": ["location"], "text": {"t": 1}, "username": [], "password": {}}'
    ),
    "nested chapters": b'{"title": "T", "chapters": [[{"title": "a", "content": "b"}], null, 7]}',
    "deeply nested array": b"[" * DEEP + b"]" * DEEP,
    "invalid utf-8": b'{"title": "\xff\xfe\xfa"}',
    "utf-16 bytes": '{"title": "x"}'.encode("utf-16"),
    "nul in strings": (
        b'{"title": "a\\u0000b", "chapters": [{"title": "\\u0000", "content": "<p>\\u0000</p>"}],'
        b' "chapter": 1, "position": 0.5, "cfi": "\\u0000", "kind": "location", "text": "\\u0000",'
        b' "username": "nul\\u0000user", "password": "pass\\u0000word-long-enough"}'
    ),
    "lone surrogate": b'{"title": "\\ud800", "text": "\\udfff", "cfi": "\\ud800", "username": "\\ud800"}',
    "long strings": (
        b'{"title": "'
        + b"t" * 100_000
        + b'", "chapter": "'
        + b"9" * 5000
        + b'", "position": "'
        + b"1" * 5000
        + b'", "text": "'
        + b"x" * 100_000
        + b'"}'
    ),
    "duplicate keys": b'{"title": "a", "title": ["b"], "chapter": 1, "chapter": "x"}',
}


# Bodies that are not a readable JSON object: 400 on every endpoint.
UNREADABLE = {
    "whitespace",
    "truncated object",
    "not json",
    "trailing junk",
    "list",
    "number",
    "string",
    "true",
    "NaN literal",
    "Infinity literal",
    "too many digits",
    "deeply nested array",
    "invalid utf-8",
    "utf-16 bytes",
}


@pytest.mark.parametrize("garbage", list(GARBAGE))
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_garbage_json_bodies_never_500(client, book, endpoint, garbage):
    method, path = write_endpoints(book.pk)[endpoint]

    response = getattr(client, method)(path, GARBAGE[garbage], content_type="application/json")

    assert_json_answer(response)
    if garbage in UNREADABLE:
        assert response.status_code == 400, response.status_code


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        b'{"title": "T", "chapters": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        b'{"chapter": 1, "position": 0.5, "cfi": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
    ids=["object", "inside chapters", "moderately deep"],
)
def test_deeply_nested_json_is_400(client, book, body):
    response = client.post("/api/v1/books/", body, content_type="application/json")
    progress = client.put(f"/api/v1/books/{book.pk}/progress/", body, content_type="application/json")

    assert_json_error(response)
    assert response.status_code == 400
    assert_json_error(progress)


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/plain", b"title=x"),
        ("application/xml", b"<book><title>x</title></book>"),
        ("application/x-www-form-urlencoded", b"title=x&chapters=1"),
        ("multipart/form-data", b"no boundary here"),
        ("multipart/form-data; boundary=zzz", b"--zzz\r\nbroken"),
        ("application/json; charset=utf-16", b'{"title": "x"}'),
        ("application/json; charset=no-such-charset", b'{"title": "x"'),
        ("image/png", b"\x89PNG\r\n\x1a\n"),
        ("", b'{"title": "x"}'),
        ("application/octet-stream", b"\x00\x01\x02"),
    ],
)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_wrong_content_types_never_500(client, book, endpoint, content_type, body):
    method, path = write_endpoints(book.pk)[endpoint]

    response = client.generic(method.upper(), path, body, content_type=content_type)

    assert_json_answer(response)


def test_form_encoded_book_create_is_415(client):
    response = client.post("/api/v1/books/", "title=x", content_type="application/x-www-form-urlencoded")

    assert_json_error(response)
    assert response.status_code == 415
    assert not Book.objects.exists()


def test_text_plain_book_create_is_415(client):
    response = client.post("/api/v1/books/", "hello", content_type="text/plain")

    assert response.status_code == 415
    assert_json_error(response)


def test_multipart_with_too_many_fields_is_json_400(client):
    fields = {f"f{n}": "x" for n in range(1200)}

    response = client.post("/api/v1/books/", fields, format="multipart")

    assert_json_error(response)


def test_multipart_with_too_many_files_is_json_400(client):
    files = {f"file{n}": SimpleUploadedFile(f"{n}.epub", b"x") for n in range(120)}

    response = client.post("/api/v1/books/", files, format="multipart")

    assert_json_error(response)


def test_too_many_query_parameters_is_json_400(client):
    query = "&".join(f"p{n}=1" for n in range(1200))

    response = client.get(f"/api/v1/books/?{query}")

    assert_json_error(response)


@pytest.mark.parametrize(
    "query",
    [
        "offset=99999999999999999999",
        "offset=9223372036854775807",
        "skip=99999999999999999999",
        "limit=99999999999999999999",
        "limit=-99999999999999999999",
        "offset=-5",
        "offset=1e9999",
        "limit=NaN",
        "offset=%00",
        "shelf=%00",
        "shelf=nobody",
        "shelf=mine&shelf=public",
        "offset=" + "9" * 5000,
    ],
)
def test_list_query_junk_never_500(client, book, query):
    response = client.get(f"/api/v1/books/?{query}")

    assert_json_answer(response)


def test_list_huge_offset_is_an_empty_page(client, book):
    response = client.get("/api/v1/books/?offset=99999999999999999999")

    assert response.status_code == 200, response.content[:300]
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "query", ["kind=%00", "kind=weather", "chapter=99999999999999999999", "chapter=-1", "chapter=1e9999"]
)
def test_description_filter_junk_never_500(client, book, query):
    response = client.get(f"/api/v1/books/{book.pk}/descriptions/?{query}")

    assert_json_answer(response)


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", f"/api/v1/books/{HUGE}/"),
        ("patch", f"/api/v1/books/{HUGE}/"),
        ("delete", f"/api/v1/books/{HUGE}/"),
        ("get", f"/api/v1/books/{HUGE}/chapters/"),
        ("get", f"/api/v1/books/{HUGE}/chapters/1/"),
        ("get", f"/api/v1/books/{HUGE}/progress/"),
        ("put", f"/api/v1/books/{HUGE}/progress/"),
        ("get", f"/api/v1/books/{HUGE}/descriptions/"),
        ("get", f"/api/v1/books/{HUGE}/cover/"),
        ("get", "/api/v1/books/9223372036854775808/"),
    ],
)
def test_huge_book_ids_are_json_404(client, method, path):
    response = getattr(client, method)(path, {"chapter": 1, "position": 0}, format="json")

    assert_json_error(response)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "method, suffix",
    [
        ("get", f"chapters/{HUGE}/"),
        ("patch", f"chapters/{HUGE}/"),
        ("get", "chapters/9223372036854775808/"),
        ("get", "chapters/2147483648/"),
        ("delete", f"descriptions/{HUGE}/"),
    ],
)
def test_huge_numbers_in_book_urls_are_json_404(client, book, method, suffix):
    response = getattr(client, method)(f"/api/v1/books/{book.pk}/{suffix}", {"title": "x"}, format="json")

    assert_json_error(response)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope/",
        "/api/v1/books/abc/",
        "/api/v1/books/1/nothing/",
        "/api/v1/books/-1/",
        "/api/v1/books/1/chapters/one/",
        "/api/v1/",
    ],
)
def test_unknown_url_under_api_is_json_404(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert_json_error(response)


def test_unknown_url_is_json_404_for_anonymous_too():
    response = APIClient().get("/api/v1/nope/")

    assert response.status_code == 404
    assert_json_error(response)


@pytest.mark.parametrize(
    "method, path",
    [
        ("delete", "/api/v1/books/"),
        ("put", "/api/v1/books/"),
        ("post", "/api/v1/books/{id}/"),
        ("post", "/api/v1/books/{id}/chapters/"),
        ("delete", "/api/v1/books/{id}/chapters/1/"),
        ("delete", "/api/v1/books/{id}/progress/"),
        ("patch", "/api/v1/books/{id}/progress/"),
        ("put", "/api/v1/books/{id}/descriptions/"),
        ("post", "/api/v1/books/{id}/cover/"),
        ("get", "/api/v1/auth/register/"),
        ("get", "/api/v1/auth/token/"),
    ],
)
def test_method_not_allowed_is_json_405(client, book, method, path):
    response = getattr(client, method)(path.format(id=book.pk))

    assert response.status_code == 405
    assert_json_error(response)


def test_error_body_is_a_detail_or_a_field_map(client, book):
    not_found = client.get("/api/v1/books/987654/").json()
    invalid = client.put(f"/api/v1/books/{book.pk}/progress/", {"chapter": 0}, format="json").json()

    assert set(not_found) == {"detail"}
    assert all(isinstance(messages, list) for messages in invalid.values())


@pytest.mark.parametrize("path", ["/api/v1/books/", "/api/v1/books/{id}/", "/api/v1/books/{id}/progress/"])
@pytest.mark.parametrize("query, accept", [("format=xml", None), ("format=%00", None), ("", "application/xml")])
def test_unsupported_formats_are_json_errors(client, book, path, query, accept):
    extra = {"HTTP_ACCEPT": accept} if accept else {}

    response = client.get(f"{path.format(id=book.pk)}?{query}", **extra)

    assert_json_error(response)
