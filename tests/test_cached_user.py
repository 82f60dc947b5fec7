"""The user behind a cached API token is the user: every cached field in its place."""

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from cacheadmin.auth import USER_FIELDS, CachedTokenAuthentication, user_from
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("superuser", [False, True])
def test_every_cached_field_is_the_users_own_on_a_miss_and_on_a_hit(superuser):
    user = UserFactory(username="alice", email="alice@example.org", is_staff=True, is_superuser=superuser)
    for _ in range(2):  # computed, then from Redis
        request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {user.auth_token.key}"))
        authenticated, _ = CachedTokenAuthentication().authenticate(request)
        assert {name: getattr(authenticated, name) for name in USER_FIELDS} == {
            name: getattr(user, name) for name in USER_FIELDS
        }


def test_fields_given_in_any_order_land_in_their_place():
    payload = {"is_superuser": False, "email": "b@example.org", "id": 7, "is_staff": True, "is_active": True}
    user = user_from({**payload, "username": "bob"})
    assert (user.pk, user.username, user.email, user.is_active, user.is_staff, user.is_superuser) == (
        7,
        "bob",
        "b@example.org",
        True,
        True,
        False,
    )


def test_each_request_gets_a_user_of_its_own():
    """The user is a copy per call: what one request sets on it never reaches another."""
    payload = {"id": 7, "username": "bob", "email": "", "is_active": True, "is_staff": True, "is_superuser": False}
    first, second = user_from(payload), user_from(payload)
    assert first is not second and first._state is not second._state
    first.is_staff = False
    first._perm_cache = {"books.change_book"}  # what ModelBackend caches on a user
    assert second.is_staff is True and not hasattr(second, "_perm_cache")
    assert user_from(payload).is_staff is True
    assert first._state.adding is False and first._state.db is None


def test_a_field_not_cached_is_read_from_the_database():
    user = UserFactory(username="carol", first_name="Carol")
    copied = user_from({name: getattr(user, name) for name in USER_FIELDS})
    assert "first_name" in copied.get_deferred_fields()
    assert copied.first_name == "Carol"  # loaded on first use, as after only()
    assert "first_name" in user_from({name: getattr(user, name) for name in USER_FIELDS}).get_deferred_fields()
