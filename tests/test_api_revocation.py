"""Sign-out and password change revoke tokens at once, cached reads included (API.md, "Authentication")."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import as_a_fresh_worker, client_for
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)

LOGOUT = "/api/v1/auth/logout/"
PASSWORD = "/api/v1/auth/password/"
TOKEN = "/api/v1/auth/token/"
OLD = "a-long-passphrase-1"  # what UserFactory sets
NEW = "another long passphrase 2"


def with_token(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def warm_reads(client, book):
    """Reads that are answered from Redis (HIT) the next time."""
    urls = [f"/api/v1/books/{book.pk}/", "/api/v1/books/", f"/api/v1/books/{book.pk}/progress/"]
    for url in urls:
        client.get(url)
        assert client.get(url)["X-Cache"] == "HIT", url
    return urls


# --- logout ----------------------------------------------------------------------------


def test_logout_deletes_the_callers_token_and_cached_reads_stop_at_once(api, user):
    book = make_book(user)
    key = user.auth_token.key
    urls = warm_reads(api, book)

    response = api.post(LOGOUT)

    assert response.status_code == 204
    assert not Token.objects.filter(key=key).exists()
    for url in urls:
        answer = with_token(key).get(url)
        assert answer.status_code == 401, url
        assert "detail" in answer.json()


def test_logout_reaches_a_worker_that_remembers_the_token(api, user):
    """Another process that served the token from Redis: its next hit is refused too."""
    book = make_book(user)
    key = user.auth_token.key
    urls = warm_reads(api, book)
    Token.objects.filter(key=key).delete()  # as the other worker sees it: a delete somewhere
    as_a_fresh_worker()
    assert all(with_token(key).get(url).status_code == 401 for url in urls)


def test_logout_leaves_other_users_alone(api, other_api, user, other):
    api.post(LOGOUT)
    assert other_api.get("/api/v1/books/").status_code == 200
    assert Token.objects.filter(user=other).exists()


def test_after_logout_a_new_sign_in_gives_a_working_token(api, user, anon):
    api.post(LOGOUT)
    key = anon.post(TOKEN, {"username": user.username, "password": OLD}, format="json").json()["token"]
    assert with_token(key).get("/api/v1/books/").status_code == 200


def test_logout_without_credentials_is_401(anon):
    assert anon.post(LOGOUT).status_code == 401


def test_logout_of_a_browser_session_ends_the_session(user):
    browser = APIClient(enforce_csrf_checks=False)
    browser.force_login(user)
    assert browser.get("/api/v1/books/").status_code == 200
    assert browser.post(LOGOUT).status_code == 204
    assert browser.get("/api/v1/books/").status_code in (401, 403)
    assert Token.objects.filter(user=user).exists()  # the API token is the client's own business


# --- password change -------------------------------------------------------------------


def test_password_change_gives_a_new_token_and_retires_the_old_one_at_once(api, user, anon):
    book = make_book(user)
    old_key = user.auth_token.key
    urls = warm_reads(api, book)

    response = api.post(PASSWORD, {"old_password": OLD, "new_password": NEW}, format="json")

    assert response.status_code == 200, response.content
    new_key = response.json()["token"]
    assert set(response.json()) == {"token"}
    assert new_key != old_key
    assert list(Token.objects.filter(user=user).values_list("key", flat=True)) == [new_key]
    for url in urls:
        assert with_token(old_key).get(url).status_code == 401, url
        assert with_token(new_key).get(url).status_code == 200, url
    assert anon.post(TOKEN, {"username": user.username, "password": OLD}, format="json").status_code == 400
    assert anon.post(TOKEN, {"username": user.username, "password": NEW}, format="json").status_code == 200
    assert get_user_model().objects.get(pk=user.pk).check_password(NEW)


def test_wrong_old_password_is_400_and_changes_nothing(api, user):
    key = user.auth_token.key
    response = api.post(PASSWORD, {"old_password": "not it", "new_password": NEW}, format="json")
    assert response.status_code == 400
    assert "old_password" in response.json()
    assert with_token(key).get("/api/v1/books/").status_code == 200
    assert get_user_model().objects.get(pk=user.pk).check_password(OLD)


@pytest.mark.parametrize("weak", ["short", "12345678901", "password123", "reader-name"])
def test_weak_new_password_is_400(api, user, weak):
    if weak == "reader-name":
        weak = f"{user.username}x1"
    response = api.post(PASSWORD, {"old_password": OLD, "new_password": weak}, format="json")
    assert response.status_code == 400
    assert "new_password" in response.json()
    assert get_user_model().objects.get(pk=user.pk).check_password(OLD)


@pytest.mark.parametrize(
    "body", [{}, {"old_password": OLD}, {"new_password": NEW}, {"old_password": 1, "new_password": []}]
)
def test_incomplete_password_change_is_400(api, body):
    assert api.post(PASSWORD, body, format="json").status_code == 400


def test_password_change_without_credentials_is_401(anon):
    assert anon.post(PASSWORD, {"old_password": OLD, "new_password": NEW}, format="json").status_code == 401


def test_guessing_the_old_password_counts_like_signing_in(api, user, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "sign_in_user": "3/hour"}
    for _ in range(3):
        assert api.post(PASSWORD, {"old_password": "guess", "new_password": NEW}, format="json").status_code == 400
    refused = api.post(PASSWORD, {"old_password": OLD, "new_password": NEW}, format="json")
    assert refused.status_code == 429


def test_password_change_in_a_browser_session_keeps_that_session(user):
    browser = APIClient(enforce_csrf_checks=False)
    browser.force_login(user)
    response = browser.post(PASSWORD, {"old_password": OLD, "new_password": NEW}, format="json")
    assert response.status_code == 200
    assert browser.get("/api/v1/books/").status_code == 200
    assert client_for(get_user_model().objects.get(pk=user.pk)).get("/api/v1/books/").status_code == 200
