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
import time
from contextlib import suppress
from typing import NamedTuple

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import parse_etags
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import wrap_attributeerrors
from rest_framework.response import Response

from cacheadmin import metrics
from cacheadmin.auth import bearer_token, http_request, remembered_holder, token_read
from cacheadmin.cache import MISS, NOT_FOUND, CacheUnavailable, response_cache
from cacheadmin.snapshot import snapshot

log = logging.getLogger(__name__)


def etag_of(body):
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def render(built):
    """(payload, meta, store) of a Built: the JSON body as served, its ETag in meta."""
    body = JSONRenderer().render(built.data)
    return body, {**built.meta, "etag": etag_of(body)}, built.store


def compute(read, params, missing=False):
    """What a miss computes: the read's builder inside one consistent snapshot.

    missing: "does not exist" is an answer too (stored for the dynamic TTL only,
    cacheadmin.cache.store), so a 404 for a missing object costs what a 404 for an
    unreadable one costs: a hit.
    """

    def build():
        with snapshot():
            try:
                return render(read.build(**params))
            except NOT_FOUND:
                if not missing:
                    raise
                return b"", {"missing": True}, True

    return build


class LookAhead(NamedTuple):
    """What the one MGET before authentication brought (see CachedReadMixin.initial)."""

    token: str | None
    token_params: dict | None  # params of the token's TOKEN_USER read
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

    # --- what every request of a view class shares, made once per class ------------------
    #
    # DRF makes these on every request. The authentication, parser and negotiation classes
    # of a cached view hold no per-request state, so one instance of each serves every
    # request (the permission and throttle classes are still made per request, as DRF does).

    def _shared(self, name, call=True):
        """DRF's `name` (a method, called; or a property) for this view class, made once, by an
        instance Django set up for a request: one it did not (drf-spectacular makes some to
        read a view's methods) has no `head`, and its Allow would lack HEAD."""
        cls = type(self)
        parts = cls.__dict__.get("_shared_parts")
        if parts is None:
            parts = cls._shared_parts = {}
        if name not in parts:
            value = getattr(super(), name)
            value = value() if call else value
            if "request" not in self.__dict__:  # not set up (View.setup): answered, not kept
                return value
            parts[name] = value
        return parts[name]

    def _allowed_methods(self):
        return self._shared("_allowed_methods")

    def get_authenticators(self):
        return self._shared("get_authenticators")

    def get_parsers(self):
        return self._shared("get_parsers")

    def get_content_negotiator(self):
        return self._shared("get_content_negotiator")

    @property
    def default_response_headers(self):
        return dict(self._shared("default_response_headers", call=False))  # DRF's finalize pops from it

    def initialize_request(self, request, *args, **kwargs):
        drf_request = super().initialize_request(request, *args, **kwargs)
        # DRF's Request proxies `method` to the Django request through __getattr__, which
        # costs a raised AttributeError on each of dispatch's reads; DRF's clone_request
        # sets it the same way.
        drf_request.method = request.method
        return drf_request

    def perform_authentication(self, request):
        # DRF's is `request.user`, whose first read looks for `_user` through
        # Request.__getattr__: three AttributeErrors raised and caught, a percent of a hit.
        # This authenticates as that read does, without them.
        with wrap_attributeerrors():
            request._authenticate()

    def dispatch(self, request, *args, **kwargs):
        started = time.perf_counter()
        response = super().dispatch(request, *args, **kwargs)
        outcome = self.__dict__.get("answered")  # get()'s X-Cache; errors (401, 404, 429…) are no answer
        if outcome is not None:
            metrics.cached_read(self.cached_read.name, outcome, time.perf_counter() - started)
            if response_cache.relay.thread is None:  # else the relay thread writes them, each round
                response_cache.flush_due_counts()
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, StoredAnswer):
            return response  # made with the headers DRF's finalize_response adds (get())
        return super().finalize_response(request, response, *args, **kwargs)

    def get_throttles(self):
        # Asked twice per request (the look-ahead, then DRF's check): built once per view instance.
        if not hasattr(self, "_throttles"):
            self._throttles = super().get_throttles()
        return self._throttles

    def initial(self, request, *args, **kwargs):
        if request.method in ("GET", "HEAD"):  # set by initialize_request
            request._request.cache_look_ahead = self._look_ahead(request, kwargs)
        super().initial(request, *args, **kwargs)

    def _look_ahead(self, request, url_kwargs):
        read, token = self.cached_read, bearer_token(request)
        holder = token_read(token) if token else None
        token_params = holder[1] if holder else None
        user_id = remembered_holder(token_params["digest"]) if holder else None
        params = None
        if not read.per_user or user_id is not None:
            with suppress(ValidationError):  # raised again, after authentication, by get()
                params = read.params(request, user_id, **url_kwargs)
        wanted = [holder] if holder else []
        if params is not None:
            wanted.append((read, params))
        if not wanted:
            return None
        counting = self._throttles_counting_ahead(request, user_id) if user_id is not None else []
        try:
            found, counts = response_cache.look_ahead(wanted, windows=[window for _, window in counting])
        except CacheUnavailable:
            return None
        for (throttle, _), count in zip(counting, counts, strict=True):
            throttle.counted_ahead(count)
        return LookAhead(
            token,
            token_params,
            found[0] if holder else None,
            user_id,
            params,
            found[-1] if params is not None else None,
        )

    def _throttles_counting_ahead(self, request, user_id):
        """[(throttle, (stored name, seconds))] of the view's throttles that can count this
        request for user_id before authentication (`count_ahead`), in the look-ahead's round
        trip; each is handed its count (`counted_ahead`) and uses it if authentication names
        the same user."""
        counting = []
        for throttle in self.get_throttles():
            ahead = getattr(throttle, "count_ahead", None)
            window = ahead(request, self, user_id) if ahead is not None else None
            if window is not None:
                counting.append((throttle, window))
        return counting

    def get(self, request, **url_kwargs):
        read, user_id = self.cached_read, request.user.id
        ahead = getattr(request._request, "cache_look_ahead", None)
        if ahead is not None and ahead.found is not None and (not read.per_user or ahead.user_id == user_id):
            params, found = ahead.params, ahead.found
        else:
            params, found = read.params(request, user_id, **url_kwargs), None
        entry, outcome = response_cache.fetch(read, params, compute(read, params, missing=True), found)
        if entry.meta.get("missing") or not read.allows(entry.meta, user_id):
            raise NotFound
        if outcome == MISS and read.prefetch is not None and settings.REDIS_CACHE_PREFETCH:
            following = read.prefetch(params, entry.meta)
            if following is not None:
                after_response(lambda: _prefetch(read, following))
        self.answered = outcome
        headers = {"X-Cache": outcome, "Cache-Control": "private"}
        if request.accepted_renderer.format != "json":
            # The browsable API renders the data itself: another representation, so not the
            # JSON answer's ETag (If-None-Match with it must not answer 304 for this page).
            return Response(json.loads(entry.payload), headers=headers)
        headers["ETag"] = etag = entry.meta["etag"]
        if is_not_modified(request, etag):
            response = HttpResponseNotModified()
            for name, value in headers.items():
                response[name] = value
            return response
        headers["Content-Length"] = str(len(entry.payload))  # else CommonMiddleware sets it, checked
        return StoredAnswer(entry.payload, {**headers, **self.headers})  # self.headers: Allow, Vary (DRF)


def etag_matches(header, etag):
    """An If-None-Match or If-Match header against an ETag, by the weak comparison (RFC 9110
    13.1.2): W/"x" matches "x" (proxies that compress add W/), and `*` matches anything."""
    candidates = parse_etags(header)
    return "*" in candidates or etag.removeprefix("W/") in {c.removeprefix("W/") for c in candidates}


def is_not_modified(request, etag):
    header = http_request(request).META.get("HTTP_IF_NONE_MATCH")
    return bool(header) and etag_matches(header, etag)


class StoredAnswer(HttpResponse):
    """A stored answer, served as stored. Its headers include those DRF's finalize_response
    adds (Allow, Vary), so the view's finalize_response leaves it as it is. A value of printable
    ASCII is set without HttpResponse's check of each header (the names are ours); any other
    (an ETag someone else wrote to Redis, say) goes through it, and a line break is refused."""

    def __init__(self, body, headers):
        super().__init__(body, content_type="application/json")
        store = self.headers._store  # what ResponseHeaders.__setitem__ fills, once a value is checked
        for name, value in headers.items():
            if value.isascii() and value.isprintable():
                store[name.lower()] = (name, value)
            else:
                self.headers[name] = value


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
