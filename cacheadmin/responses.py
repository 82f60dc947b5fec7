"""The cached read for DRF views: one mixin, driven by the reads named in cacheadmin.keys."""

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

from cacheadmin.auth import bearer_token, token_read
from cacheadmin.cache import HIT, MISS, CacheUnavailable, response_cache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Built:
    """What a read computes from the database: the data and the facts a hit needs."""

    data: object
    owner: int | None = None  # the book's owner, for the access check of every hit
    visibility: str | None = None
    next: int | None = None  # the chapter to prefetch

    def render(self):
        body = JSONRenderer().render(self.data)
        meta = {"etag": etag_of(body)}
        for name in ("owner", "visibility", "next"):
            if getattr(self, name) is not None:
                meta[name] = getattr(self, name)
        return body, meta


def etag_of(body):
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def compute(builder, params):
    return lambda: builder(**params).render()


def compute_or_missing(builder, params):
    """compute(), with "does not exist" stored too (for the dynamic TTL, cacheadmin.cache.store):
    a 404 for a missing object then costs what a 404 for an unreadable one costs, a hit."""

    def run():
        try:
            return builder(**params).render()
        except NotFound:
            return b"", {"missing": True}

    return run


class CachedReadMixin:
    """A DRF view whose GET is one cached read.

    The view names its `read` (cacheadmin.keys), its `builder` (a function that
    returns a Built, or raises NotFound when the object does not exist) and
    `read_params(request, user_id, **url_kwargs)`. A stored answer is served as stored,
    without serializers; access is checked on every answer, hits included.

    A warm hit with an API token is answered before DRF's request handling, from one
    MGET; anything else takes DRF's path through get().
    """

    read = None
    builder = None

    def read_params(self, request, user_id, **url_kwargs):
        raise NotImplementedError

    def dispatch(self, request, *args, **kwargs):
        if request.method == "GET":
            response = self._warm_hit(request, kwargs)
            if response is not None:
                return response
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, **url_kwargs):
        params = self.read_params(request, request.user.id, **url_kwargs)
        return self.cached(request, self.read, params, self.builder)

    def cached(self, request, read, params, builder):
        entry, outcome = response_cache.fetch(read, params, compute_or_missing(builder, params))
        if entry.meta.get("missing") or not entry.readable_by(request.user.id):
            raise NotFound
        next_number = entry.meta.get("next")
        # A computed chapter warms the next one; a hit finds it warmed already.
        if next_number and outcome == MISS and settings.REDIS_CACHE_PREFETCH:
            after_response(lambda: _prefetch(read, {**params, "number": next_number}, builder))
        if request.accepted_renderer.format != "json":  # the browsable API renders the data itself
            headers = {"X-Cache": outcome, "ETag": entry.meta["etag"]}
            if read.per_user:
                headers["Cache-Control"] = "private"
            return Response(json.loads(entry.payload), headers=headers)
        return respond(request, entry.payload, entry.meta["etag"], outcome, private=read.per_user)

    def _warm_hit(self, request, url_kwargs):
        """The stored answer for a token holder who may read it, else None (take DRF's path).

        A per-user read needs the holder's id to name its key. This process remembers the
        id of each token it has seen, so both are fetched in one MGET; the token entry in
        that MGET must still be valid and name the same user, or nothing is served.
        """
        token = bearer_token(request)
        if token is None or not _wants_json(request):
            return None
        holder_read = token_read(token)
        digest = holder_read[1]["digest"]
        user_id = _token_holders.get(digest)
        try:
            if self.read.per_user and user_id is None:
                [(holder, _)] = response_cache.lookup_many([holder_read])
                if holder is None or holder.payload is None:
                    return None
                user_id = _remember_holder(digest, holder.payload["id"])
            params = self.read_params(request, user_id, **url_kwargs)
            (holder, _), (entry, _) = response_cache.lookup_many([holder_read, (self.read, params)])
        except (CacheUnavailable, ValidationError):
            return None
        if holder is None or holder.payload is None or entry is None:
            return None
        if self.read.per_user and holder.payload["id"] != user_id:
            _remember_holder(digest, holder.payload["id"])  # the token changed hands
            return None
        if entry.meta.get("missing") or not entry.readable_by(holder.payload["id"]):
            return None
        response_cache.count_hit(self.read)
        return respond(request, entry.payload, entry.meta["etag"], HIT, private=self.read.per_user)


_token_holders = {}  # token digest -> user id, as last confirmed by Redis (never trusted alone)


def _remember_holder(digest, user_id):
    if len(_token_holders) >= 10_000:
        _token_holders.clear()
    _token_holders[digest] = user_id
    return user_id


def _wants_json(request):
    accept = request.META.get("HTTP_ACCEPT", "*/*")
    return "format" not in request.GET and ("application/json" in accept or accept.startswith("*/*"))


def is_not_modified(request, etag):
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x"."""
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if not header:
        return False
    candidates = parse_etags(header)
    return "*" in candidates or etag.removeprefix("W/") in {c.removeprefix("W/") for c in candidates}


def respond(request, body, etag, outcome, private=False):
    """The stored answer; `private` (a per-user read) keeps shared caches from storing it."""
    if is_not_modified(request, etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["X-Cache"] = outcome
    response["Vary"] = "Accept"
    if private:
        response["Cache-Control"] = "private"
    return response


def _prefetch(read, params, builder):
    with suppress(NotFound, CacheUnavailable):
        response_cache.warm(read, params, compute(builder, params))


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
