"""The cached read for DRF views: one mixin, driven by the reads named in cacheadmin.keys."""

import hashlib
import logging
import threading
from contextlib import suppress
from dataclasses import dataclass

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import parse_etags
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from books.models import readable
from cacheadmin.cache import BYPASS, CacheUnavailable, response_cache

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


class CachedReadMixin:
    """`self.cached(request, read, params, builder)` answers a read through the cache.

    builder(**params) returns a Built, or raises NotFound when the object does not exist.
    A stored answer is served as stored, without serializers; access is checked on
    every answer, hits included.
    """

    def cached(self, request, read, params, builder):
        if request.accepted_renderer.format != "json":
            built = builder(**params)
            if built.owner is not None and not readable(built.owner, built.visibility, request.user.id):
                raise NotFound
            return Response(built.data, headers={"X-Cache": BYPASS})
        entry, outcome = response_cache.fetch(read, params, compute(builder, params))
        if not entry.readable_by(request.user.id):
            raise NotFound
        next_number = entry.meta.get("next")
        if next_number and settings.REDIS_CACHE_PREFETCH and outcome != BYPASS:
            after_response(lambda: _prefetch(read, {**params, "number": next_number}, builder))
        return respond(request, entry.payload, entry.meta["etag"], outcome)


def is_not_modified(request, etag):
    return etag in parse_etags(request.headers.get("If-None-Match", ""))


def respond(request, body, etag, outcome):
    if is_not_modified(request, etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["X-Cache"] = outcome
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
