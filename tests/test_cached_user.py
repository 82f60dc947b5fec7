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
