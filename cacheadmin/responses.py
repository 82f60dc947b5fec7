"""The cached read for DRF views: one mixin, driven by the view's declared CachedRead.

Every request, hit or miss, takes DRF's whole path: content negotiation,
authentication, the view's permission and throttle classes, and DRF's exception
handler for every error. What makes a hit cheap is that the answer and the API token's
user are looked up together, in one MGET, before DRF authenticates: the token
authentication and the read then use what that lookup brought.
"""

import hashlib
import json
import logging
import threading
from contextlib import suppress
from dataclasses import dataclass

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import parse_etags
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from cacheadmin.auth import bearer_token, remembered_holder, token_read
from cacheadmin.cache import MISS, CacheUnavailable, response_cache
from cacheadmin.snapshot import snapshot

log = logging.getLogger(__name__)


def etag_of(body):
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def render(built):
    """(payload, meta, store) of a Built: the JSON body as served, its ETag in meta."""
    body = JSONRenderer().render(built.data)
    return body, {**built.meta, "etag": etag_of(body)}, built.store


def compute(read, params):
    """What a miss computes: the read's builder inside one consistent snapshot."""

    def build():
        with snapshot():
            return render(read.build(**params))

    return build


@dataclass(frozen=True)
class LookAhead:
    """What the one MGET before authentication brought (see CachedReadMixin.initial)."""

    token: str | None
    holder: tuple | None  # lookup() of the token's user, or None without a token
    user_id: int | None  # the user the answer's params were made for
    params: dict | None
    found: tuple | None  # lookup() of the answer, or None when it was not looked up


class CachedReadMixin:
    """A DRF view whose GET is the CachedRead named by `cached_read`.

    A stored answer is served as stored, without serializers; the read's access rule is
    checked on every answer, hits included.
    """

    cached_read = None

    def _allowed_methods(self):
        # DRF's Allow header, computed on every response: the same for every instance.
        cls = type(self)
        if "_allowed_cache" not in cls.__dict__:
            cls._allowed_cache = super()._allowed_methods()
        return cls._allowed_cache

    def initial(self, request, *args, **kwargs):
        if request.method in ("GET", "HEAD"):
            request._request.cache_look_ahead = self._look_ahead(request, kwargs)
        super().initial(request, *args, **kwargs)

    def _look_ahead(self, request, url_kwargs):
        read, token = self.cached_read, bearer_token(request)
        holder = token_read(token) if token else None
        user_id = remembered_holder(holder[1]["digest"]) if holder else None
        params = None
        if not read.per_user or user_id is not None:
            with suppress(ValidationError):  # raised again, after authentication, by get()
                params = read.params(request, user_id, **url_kwargs)
        wanted = [holder] if holder else []
        if params is not None:
            wanted.append((read, params))
        if not wanted:
            return None
        try:
            found = response_cache.lookup_many(wanted)
        except CacheUnavailable:
            return None
        return LookAhead(
            token, found[0] if holder else None, user_id, params, found[-1] if params is not None else None
        )

    def get(self, request, **url_kwargs):
        read, user_id = self.cached_read, request.user.id
        ahead = getattr(request._request, "cache_look_ahead", None)
        if ahead is not None and ahead.found is not None and (not read.per_user or ahead.user_id == user_id):
            params, found = ahead.params, ahead.found
        else:
            params, found = read.params(request, user_id, **url_kwargs), None
        entry, outcome = response_cache.fetch(read, params, compute(read, params), found)
        if not read.allows(entry.meta, user_id):
            raise NotFound
        if outcome == MISS and read.prefetch is not None and settings.REDIS_CACHE_PREFETCH:
            following = read.prefetch(params, entry.meta)
            if following is not None:
                after_response(lambda: _prefetch(read, following))
        headers = {"ETag": entry.meta["etag"], "X-Cache": outcome, "Cache-Control": "private"}
        if request.accepted_renderer.format != "json":  # the browsable API renders the data itself
            return Response(json.loads(entry.payload), headers=headers)
        return respond(request, entry.payload, headers)


def is_not_modified(request, etag):
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x"."""
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if not header:
        return False
    candidates = parse_etags(header)
    return "*" in candidates or etag.removeprefix("W/") in {c.removeprefix("W/") for c in candidates}


def respond(request, body, headers):
    if is_not_modified(request, headers["ETag"]):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    return response


def _prefetch(read, params):
    with suppress(CacheUnavailable):
        response_cache.warm([(read, params, compute(read, params))])


# --- work after the response is sent ---------------------------------------------

_after = threading.local()


def after_response(task):
    """Run task once the response has gone out (Django closes it after the WSGI write)."""
    if not hasattr(_after, "tasks"):
        _after.tasks = []
    _after.tasks.append(task)


@receiver(request_finished)
def _run_after_response(sender, **kwargs):
    tasks, _after.tasks = getattr(_after, "tasks", []), []
    for task in tasks:
        try:
            task()
        except Exception:
            log.exception("After-response task failed")
