"""API token authentication whose hit needs no SQL: the token's user is cached in Redis.

The cached user is a plain User instance carrying USER_FIELDS; anything else is read
from the database when asked for. Deleting or changing the token, or changing its user
(`save()`, a queryset `update()`, a delete), retires the entry (declared below).
"""

import functools
import hashlib

from django.contrib.auth import get_user_model
from django.db.models.base import ModelState
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from cacheadmin.cache import response_cache
from cacheadmin.registry import DYNAMIC, CachedRead, registry

KEYWORDS = ("bearer", "token")
USER_FIELDS = ("id", "username", "email", "is_active", "is_staff", "is_superuser")
MAX_REMEMBERED_HOLDERS = 10_000


def token_digest(key):
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def token_generation(key):
    return f"gen:token:{token_digest(key)}"


def _load_user(key):
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return {name: getattr(token.user, name) for name in USER_FIELDS}


# Not a response: the user behind an API token (its build takes the key, not the digest,
# and is called by the authentication below, never from params).
TOKEN_USER = CachedRead(
    name="token_user",
    template="auth:token:{digest}",
    generations=("gen:token:{digest}",),
    ttl=DYNAMIC,
    build=_load_user,
)


class CachedTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>` (or `Token <token>`), the user cached in Redis.

    When the view looked the token up already (cacheadmin.responses.CachedReadMixin),
    that lookup is used: a hit costs no further round trip.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        ahead = getattr(request._request, "cache_look_ahead", None)
        if ahead is not None and ahead.token is not None:
            # The look-ahead read the same header: a token there is one a strict read gives.
            return self._authenticate(ahead.token, ahead.token_params, ahead.holder)
        key = bearer_token(request, strict=True)
        if key is None:
            return None
        return self._authenticate(key, token_read(key)[1], None)

    def authenticate_credentials(self, key):
        return self._authenticate(key, token_read(key)[1], None)

    def _authenticate(self, key, params, found):
        entry, _ = response_cache.fetch(TOKEN_USER, params, lambda: _compute_holder(key), found)
        if entry.payload is None:
            raise AuthenticationFailed("Invalid token.")
        remember_holder(params["digest"], entry.payload["id"])
        return user_from(entry.payload), key


def _compute_holder(key):
    payload = _load_user(key)
    return payload, {}, payload is not None  # an unknown token is answered, never stored


def bearer_token(request, strict=False):
    """The API token of `Authorization: Bearer <token>` (or `Token <token>`), else None.

    strict: a header of our keywords that is not exactly `<keyword> <token>` fails
    authentication instead of being ignored.
    """
    header = http_request(request).META.get("HTTP_AUTHORIZATION", "").split()
    if not header or header[0].lower() not in KEYWORDS:
        return None
    if len(header) != 2:
        if strict:
            raise AuthenticationFailed("Invalid token header.")
        return None
    return header[1]


def http_request(request):
    """The Django request behind a DRF Request (or the Django request itself). Its attributes read
    through DRF's Request cost a raised AttributeError each (Request.__getattr__ proxies them):
    the hit path reads them here."""
    return request._request if isinstance(request, Request) else request


def query_of(request):
    """The query parameters of a DRF request as a plain dict (the last value of each, as
    QueryDict.get gives): a parameter not given costs no KeyError, and a request without a
    query string no QueryDict, on a path every hit takes."""
    if not http_request(request).META.get("QUERY_STRING"):
        return {}
    return request.query_params.dict()


def token_read(key):
    return TOKEN_USER, {"digest": token_digest(key)}


def user_from(payload):
    """A User carrying the cached fields; anything else is read from the database when asked
    (the others are deferred, as after `only()`).

    Every call returns a new instance: a copy of the one Model.from_db made for this payload,
    taken as Django copies a model instance (Model.__getstate__: its own attribute dict and a
    fresh ModelState), so nothing one request does to its user reaches another. The copy
    skips Model.__init__: a hit builds no model, and pre_init/post_init are sent once per
    payload, when from_db makes the original.
    """
    if tuple(payload) == USER_FIELDS:  # USER_FIELDS, in order: the values alone name the user
        original = _made_by_from_db(_user_model(), *payload.values())
    else:  # an entry of other fields (an older release): made for itself
        original = _from_db(_user_model(), payload)
    user = original.__class__.__new__(original.__class__)
    user.__dict__.update(original.__dict__)
    user._state = ModelState()
    user._state.adding, user._state.db = False, original._state.db
    return user


@functools.cache
def _user_model():
    """get_user_model(), asked once: AUTH_USER_MODEL cannot change while Django runs."""
    return get_user_model()


@functools.lru_cache(maxsize=1024)
def _made_by_from_db(model, *values):
    """The user of a payload of USER_FIELDS (their values, in that order), made once."""
    return _from_db(model, dict(zip(USER_FIELDS, values, strict=True)))


def _from_db(model, payload):
    """from_db takes the values of the loaded fields in the model's field order, whatever order
    field_names has: they are put in that order here."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in payload]
    return model.from_db(None, names, [payload[name] for name in names])


# Token digest -> user id, as last confirmed by Redis. Never trusted alone: it only names
# the key of a per-user answer, fetched in the same MGET as the token's own entry, and
# that answer is used only if authentication names the same user.
_holders = {}


def remembered_holder(digest):
    return _holders.get(digest)


def remember_holder(digest, user_id):
    if len(_holders) >= MAX_REMEMBERED_HOLDERS and digest not in _holders:
        _holders.clear()
    _holders[digest] = user_id


def _tokens_of_users(rows):
    user_ids = [row["pk"] for row in rows]
    keys = Token.objects.filter(user_id__in=user_ids).values_list("key", flat=True)
    return {token_generation(key) for key in keys}


def declare():
    from cacheadmin.retiring import retire_on

    registry.add_read(TOKEN_USER)
    retire_on(Token, fields=("key",), generations=lambda rows: {token_generation(row["key"]) for row in rows})
    retire_on(get_user_model(), generations=_tokens_of_users)
