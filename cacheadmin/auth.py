"""API token authentication whose warm path needs no SQL."""

from django.contrib.auth import get_user_model
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from cacheadmin import keys
from cacheadmin.cache import response_cache

KEYWORDS = ("bearer", "token")
USER_FIELDS = ("id", "username", "email", "is_active", "is_staff", "is_superuser")


class CachedTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>` (or `Token <token>`), the user cached in Redis.

    The cached user is a plain User instance carrying the fields above; anything else
    is read from the database when asked for. Deleting the token or saving the user
    retires the entry (cacheadmin.signals).
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "").split()
        if not header or header[0].lower() not in KEYWORDS:
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Invalid token header.")
        return self.authenticate_credentials(header[1])

    def authenticate_credentials(self, key):
        read, params = token_read(key)
        entry, _ = response_cache.fetch(read, params, lambda: (_load_user(key), {}))
        if entry.payload is None:
            raise AuthenticationFailed("Invalid token.")
        return user_from(entry.payload), key


def bearer_token(request):
    """The API token of `Authorization: Bearer <token>` (or `Token <token>`), else None."""
    header = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(header) == 2 and header[0].lower() in KEYWORDS:
        return header[1]
    return None


def token_read(key):
    return keys.TOKEN_USER, {"digest": keys.token_digest(key)}


def user_from(payload):
    """A User carrying the cached fields; anything else is read from the database when asked."""
    user = get_user_model()(**payload)
    user._state.adding = False
    return user


def _load_user(key):
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return {name: getattr(token.user, name) for name in USER_FIELDS}
