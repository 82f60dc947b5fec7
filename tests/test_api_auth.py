"""Authentication: register, token, Bearer/Token keywords, 401 without credentials (docs/API.md)."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from books.models import Description
from tests.factories import UserFactory, make_book

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
PASSWORD = "a-long-passphrase-1"  # what UserFactory sets


def is_json(response):
    return response["Content-Type"].startswith("application/json")


# Register


def test_register_answers_201_with_id_username_token(anon):
    response = anon.post(
        REGISTER, {"username": "newreader", "password": "correct horse battery", "email": "n@example.com"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "username", "token"}
    created = User.objects.get(username="newreader")
    assert body["id"] == created.pk
    assert body["username"] == "newreader"
    assert body["token"] == Token.objects.get(user=created).key
    assert created.email == "n@example.com"
    assert created.check_password("correct horse battery")


def test_register_without_email(anon):
    response = anon.post(REGISTER, {"username": "noemail", "password": "correct horse battery"})

    assert response.status_code == 201, response.content
    assert User.objects.filter(username="noemail").exists()


def test_registered_token_opens_the_api(anon):
    token = anon.post(REGISTER, {"username": "fresh", "password": "correct horse battery"}).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.get("/api/v1/books/")

    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_register_taken_name_is_400(anon, user):
    response = anon.post(REGISTER, {"username": user.username, "password": "correct horse battery"})

    assert response.status_code == 400
    assert "username" in response.json()
    assert User.objects.filter(username=user.username).count() == 1


@pytest.mark.parametrize(
    "username, password",
    [
        ("shorty", "x7!kq"),  # too short
        ("common", "password123"),  # common
        ("common2", "qwertyuiop"),  # common
        ("numbers", "8472019374658"),  # entirely numeric
        ("marvellous", "marvellous1"),  # too similar to the username
    ],
)
def test_register_weak_password_is_400(anon, username, password):
    response = anon.post(REGISTER, {"username": username, "password": password})

    assert response.status_code == 400, response.content
    assert "password" in response.json()
    assert not User.objects.filter(username=username).exists()


def test_register_password_too_similar_to_email_is_400(anon):
    response = anon.post(
        REGISTER, {"username": "someone", "password": "zebracrossing9", "email": "zebracrossing9@example.com"}
    )

    assert response.status_code == 400
    assert "password" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "lonely"},
        {"password": "correct horse battery"},
        {"username": "", "password": "correct horse battery"},
        {"username": "bad name!", "password": "correct horse battery"},
        {"username": "x" * 151, "password": "correct horse battery"},
        {"username": "mailer", "password": "correct horse battery", "email": "not-an-email"},
        {"username": ["list"], "password": "correct horse battery"},
        {"username": {"a": 1}, "password": {"b": 2}},
        {"username": None, "password": None},
    ],
)
def test_register_garbage_is_400(anon, body):
    response = anon.post(REGISTER, body, format="json")

    assert response.status_code == 400, response.content
    assert is_json(response)
    assert User.objects.count() == 0


@pytest.mark.parametrize("raw", ["", "{", "[]", "[1, 2]", "null", '"text"', "42", "not json"])
def test_register_unparseable_or_non_object_body_is_400(anon, raw):
    response = anon.post(REGISTER, raw, content_type="application/json")

    assert response.status_code == 400, response.content
    assert is_json(response)


# Token


def test_token_answers_200_with_the_users_token(anon, user):
    response = anon.post(TOKEN, {"username": user.username, "password": PASSWORD})

    assert response.status_code == 200, response.content
    assert response.json() == {"token": user.auth_token.key}


def test_token_as_json(anon, user):
    response = anon.post(TOKEN, {"username": user.username, "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json()["token"] == user.auth_token.key


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nobody-here", "password": PASSWORD},
        {"username": "USER", "password": "wrong-password"},
        {"username": "USER"},
        {"password": PASSWORD},
        {},
        {"username": "", "password": ""},
    ],
)
def test_token_bad_credentials_are_400(anon, user, body):
    body = {key: (user.username if value == "USER" else value) for key, value in body.items()}

    response = anon.post(TOKEN, body, format="json")

    assert response.status_code == 400, response.content
    assert is_json(response)
    assert "token" not in response.json()


def test_token_of_inactive_user_is_400(anon):
    inactive = UserFactory(is_active=False)

    response = anon.post(TOKEN, {"username": inactive.username, "password": PASSWORD})

    assert response.status_code == 400


@pytest.mark.parametrize("path", [REGISTER, TOKEN])
def test_auth_endpoints_ignore_a_stale_authorization_header(user, path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer expired-or-deleted-token")
    body = {"username": user.username, "password": PASSWORD}
    if path == REGISTER:
        body = {"username": "brand-new", "password": "correct horse battery"}

    response = client.post(path, body, format="json")

    assert response.status_code in (200, 201), response.content


# Keywords


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer", "token"])
def test_bearer_and_token_keywords_are_accepted(user, keyword):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {user.auth_token.key}")

    response = client.get("/api/v1/books/")

    assert response.status_code == 200, response.content


def test_token_identifies_the_caller(user, other):
    make_book(user, title="Mine only")
    make_book(other, title="Theirs only")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")

    titles = [book["title"] for book in client.get("/api/v1/books/").json()["results"]]

    assert titles == ["Mine only"]


def test_session_auth_is_accepted(user):
    client = APIClient()
    assert client.login(username=user.username, password=PASSWORD)

    response = client.get("/api/v1/books/")

    assert response.status_code == 200


# 401


@pytest.fixture
def book(user):
    return make_book(user, visibility="public")


def book_endpoints(book_id, description_id):
    base = f"/api/v1/books/{book_id}"
    return [
        ("get", "/api/v1/books/"),
        ("post", "/api/v1/books/"),
        ("get", f"{base}/"),
        ("patch", f"{base}/"),
        ("put", f"{base}/"),
        ("delete", f"{base}/"),
        ("get", f"{base}/chapters/"),
        ("get", f"{base}/chapters/1/"),
        ("patch", f"{base}/chapters/1/"),
        ("get", f"{base}/progress/"),
        ("put", f"{base}/progress/"),
        ("post", f"{base}/progress/"),
        ("get", f"{base}/descriptions/"),
        ("post", f"{base}/descriptions/"),
        ("delete", f"{base}/descriptions/{description_id}/"),
        ("get", f"{base}/cover/"),
    ]


@pytest.mark.parametrize("index", range(16))
def test_books_endpoints_without_credentials_are_401(anon, book, index):
    description = Description.objects.create(book=book, chapter=book.chapters.first(), kind="atmosphere", text="x")
    method, path = book_endpoints(book.pk, description.pk)[index]

    response = getattr(anon, method)(path, {}, format="json")

    assert response.status_code == 401, (method, path, response.status_code)
    assert is_json(response)
    assert "detail" in response.json()
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("index", range(16))
def test_books_endpoints_with_an_invalid_token_are_401(book, index):
    description = Description.objects.create(book=book, chapter=book.chapters.first(), kind="atmosphere", text="x")
    method, path = book_endpoints(book.pk, description.pk)[index]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer 0000000000000000000000000000000000000000")

    response = getattr(client, method)(path, {}, format="json")

    assert response.status_code == 401, (method, path, response.status_code)
    assert is_json(response)


def test_without_credentials_a_missing_book_is_401_not_404(anon):
    assert anon.get("/api/v1/books/987654/").status_code == 401


def test_admin_cache_stats_without_credentials_is_401(anon):
    response = anon.get("/api/v1/admin/cache/stats/")

    assert response.status_code == 401
    assert is_json(response)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer two words",
        "Token",
        "Bearer not-a-real-token",
        "Token 0123456789012345678901234567890123456789",
    ],
)
def test_malformed_or_unknown_token_is_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/books/")

    assert response.status_code == 401, header
    assert is_json(response)


def test_deleted_token_stops_working_at_once(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {user.auth_token.key}")
    assert client.get("/api/v1/books/").status_code == 200

    Token.objects.filter(user=user).delete()

    assert client.get("/api/v1/books/").status_code == 401


def test_deactivated_user_is_refused_at_once(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {user.auth_token.key}")
    assert client.get("/api/v1/books/").status_code == 200

    user.is_active = False
    user.save()

    assert client.get("/api/v1/books/").status_code == 401
