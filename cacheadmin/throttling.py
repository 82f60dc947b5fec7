"""Throttles: DRF rate throttles whose counters live in Redis, or in memory while Redis is down.

Counters live in the ``throttle`` cache alias (the same Redis as the response cache under a
prefix of their own, so clearing the response cache never resets them). Each rate counts in a
fixed window: the first request of a window creates the counter with the window as its TTL,
and every request adds one, in one round trip (cacheadmin.cache.window_commands), so workers
never lose each other's counts and a counter never outlives its window.

While Redis is unreachable each process counts in its own memory, and no request fails
because of it: a small circuit breaker keeps a dead Redis out of the request path for
REDIS_CACHE_RETRY_SECONDS after each failure, so an outage costs one socket timeout per
process per interval, not one per request.

Domain-free: the scopes below know requests, users and views, nothing of books. Rates come
from settings.THROTTLE_RATES, read at each request (tests and operators may change them).
A view declares the methods whose body is an upload with ``upload_methods``; they count
against the upload rate instead of the write rate (and cacheadmin.middleware gives them the
upload body limit).
"""

import functools
import hashlib
import ipaddress
import logging
import threading
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from cacheadmin import metrics
from cacheadmin.auth import http_request
from cacheadmin.cache import Breaker, own_cache, window_commands, window_count
from cacheadmin.connections import round_trip

log = logging.getLogger(__name__)

ALIAS = "throttle"
REDIS_ERRORS = (RedisError, ConnectionInterrupted, OSError)
MEMORY_MAX_KEYS = 100_000


class MemoryWindows:
    """Fixed-window counters of this process: {key: (count, window end)}, bounded in size."""

    def __init__(self, max_keys=MEMORY_MAX_KEYS):
        self._lock = threading.Lock()
        self._windows = {}
        self.max_keys = max_keys

    def hit(self, key, seconds):
        now = time.monotonic()
        with self._lock:
            count, ends = self._windows.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + seconds
                if len(self._windows) >= self.max_keys:
                    self._forget_expired(now)
            count += 1
            self._windows[key] = (count, ends)
        return count, ends - now

    def _forget_expired(self, now):
        self._windows = {key: window for key, window in self._windows.items() if window[1] > now}
        if len(self._windows) >= self.max_keys:  # a flood of live keys: start over rather than grow
            self._windows.clear()

    def clear(self):
        with self._lock:
            self._windows.clear()


class WindowCounter:
    """hit(key, seconds) -> (requests in the current window, seconds until it ends, or None
    when only Redis knows: time_left() asks it)."""

    def __init__(self):
        self.breaker = Breaker(counted=False)  # the response cache's breaker, kept apart
        self.memory = MemoryWindows()

    def hit(self, key, seconds):
        if self.breaker.allow():
            try:
                found = self._redis_hit(key, seconds)
            except REDIS_ERRORS as error:
                self.breaker.failed()
                log.warning("Throttle counters fall back to memory, Redis unavailable: %s", error)
            else:
                self.breaker.succeeded()
                return found
        return self.memory.hit(key, seconds)

    def _redis_hit(self, key, seconds):
        cache, name, _ = own_cache(ALIAS)
        commands = window_commands(name(key), seconds)
        return window_count(round_trip(cache.client.get_client(write=True), commands), seconds)

    def time_left(self, key, seconds):
        """Seconds until the window of `key` ends, asked of Redis (a refused request's
        Retry-After); the whole window when Redis cannot tell."""
        cache, name, _ = own_cache(ALIAS)
        try:
            [left_ms] = round_trip(cache.client.get_client(write=True), [("PTTL", name(key))])
        except REDIS_ERRORS:
            return seconds
        return left_ms / 1000 if left_ms >= 0 else seconds


counter = WindowCounter()


# --- who is asking ---------------------------------------------------------------------


def client_address(request):
    """The client's address, as TRUSTED_PROXY_COUNT (DRF's NUM_PROXIES) tells; an IPv6 client
    counts per /64, the block one subscriber usually holds."""
    address = BaseThrottle().get_ident(request) or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return f"{ipaddress.ip_network((ip, 64), strict=False).network_address}/64"
    return str(ip)


def username_ident(username):
    """A fixed-size key part for a submitted username (case-insensitive, any characters)."""
    return hashlib.sha256(username.strip().casefold().encode("utf-8", "surrogatepass")).hexdigest()[:32]


def submitted_username(request):
    """The username a sign-in submits: DRF's parsed body, or a Django form's POST."""
    data = request.data if hasattr(request, "data") else request.POST
    username = data.get("username") if hasattr(data, "get") else None
    return username if isinstance(username, str) and username.strip() else None


def is_upload(request, view):
    return http_request(request).method in getattr(view, "upload_methods", ())


# --- the throttles ---------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _parsed_rate(rate):
    """DRF's parse of a rate ("600/min" -> (600, 60)), once per rate string."""
    return SimpleRateThrottle.parse_rate(None, rate)


class WindowRateThrottle(SimpleRateThrottle):
    """A DRF rate throttle counting in WindowCounter; subclasses name the scope and the ident."""

    cache_format = "throttle:%(scope)s:%(ident)s"

    def get_rate(self):
        try:
            return settings.THROTTLE_RATES[self.scope]
        except (AttributeError, KeyError) as error:
            raise ImproperlyConfigured(f"settings.THROTTLE_RATES has no rate for the '{self.scope}' scope.") from error

    def parse_rate(self, rate):
        return _parsed_rate(rate)

    def ident(self, request, view):
        """What this scope counts by, or None when the request is not its business."""
        raise NotImplementedError

    def get_cache_key(self, request, view):
        ident = self.ident(request, view)
        if ident is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        self.remaining = None
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        count, self.remaining = counter.hit(key, self.duration)
        return self.within(count, key)

    def within(self, count, key):
        """Whether the count-th request of the window of `key` is allowed (the time left is
        asked of Redis only for a refusal's Retry-After)."""
        if count > self.num_requests:
            if self.remaining is None:
                self.remaining = counter.time_left(key, self.duration)
            metrics.throttled(self.scope)
            return False
        return True

    def wait(self):
        return self.remaining


class SignInAddressThrottle(WindowRateThrottle):
    """Sign-in attempts (the API's token and the admin login) per client address."""

    scope = "sign_in"

    def ident(self, request, view):
        return None if http_request(request).method in SAFE_METHODS else client_address(request)


class SignInUsernameThrottle(WindowRateThrottle):
    """Sign-in attempts per username, from any address (a password change counts for its user)."""

    scope = "sign_in_user"

    def ident(self, request, view):
        if http_request(request).method in SAFE_METHODS:
            return None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return username_ident(user.get_username())
        username = submitted_username(request)
        return username_ident(username) if username else None


class RegisterThrottle(WindowRateThrottle):
    """Registrations per client address."""

    scope = "register"

    def ident(self, request, view):
        return None if http_request(request).method in SAFE_METHODS else client_address(request)


class UserThrottle(WindowRateThrottle):
    """Per signed-in user, in the scope the request falls in: 'read' (safe methods), 'upload'
    (the methods a view lists in upload_methods), 'write' (any other). One instance and one
    count per request, whatever its scope; anonymous requests are left to authentication
    (401) and the sign-in scopes.

    The scope, hence the rate, is chosen per request (as DRF's ScopedRateThrottle does);
    `scopes` narrows the ones a view counts (e.g. writes only).
    """

    scopes = ("read", "write", "upload")

    def __init__(self):
        pass  # the scope and its rate are known once the request is: allow_request()

    @staticmethod
    def scope_of(request, view):
        if http_request(request).method in SAFE_METHODS:
            return "read"
        return "upload" if is_upload(request, view) else "write"

    def allow_request(self, request, view):
        ahead = self.__dict__.pop("ahead", None)  # count_ahead's, for this same request
        if ahead is None:
            self.scope = self.scope_of(request, view)
            if self.scope not in self.scopes:
                self.remaining = None
                return True
            self._rate(self.get_rate())
        elif ahead.count is not None and ahead.user_id == request.user.pk:
            count, self.remaining = ahead.count  # counted in the look-ahead, for this user
            return self.within(count, ahead.key)
        return super().allow_request(request, view)

    def _rate(self, rate):
        self.rate = rate
        self.num_requests, self.duration = self.parse_rate(rate)

    def ident(self, request, view):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return str(user.pk)

    def count_ahead(self, request, view, user_id):
        """(stored name, seconds) to count this read for user_id in the cached read's look-ahead
        (cacheadmin.responses), before authentication names the user; None to count as usual.
        The look-ahead hands the count back (counted_ahead); allow_request uses it only if
        authentication names the same user. A throttle instance serves one request."""
        self.scope = self.scope_of(request, view)
        if self.scope not in self.scopes:
            return None
        rate, counters = self.get_rate(), own_cache(ALIAS)
        if rate is None or counter.breaker.open or counters.location != own_cache("default").location:
            return None  # (counters elsewhere than the cached answers: counted on their own)
        self._rate(rate)
        key = self.cache_format % {"scope": self.scope, "ident": str(user_id)}
        self.ahead = _Ahead(user_id, key)
        return counters.name(key), self.duration

    def counted_ahead(self, count):
        """The look-ahead's count: (requests in the window, seconds until it ends or None)."""
        self.ahead.count = count


class _Ahead:
    """What count_ahead counted: for whom, under which key, and (once the look-ahead's reply
    is in) the count."""

    __slots__ = ("user_id", "key", "count")

    def __init__(self, user_id, key):
        self.user_id, self.key, self.count = user_id, key, None


class WriteThrottle(UserThrottle):
    """UserThrottle for writes and uploads only (a view whose reads are not counted)."""

    scopes = ("write", "upload")


SIGN_IN_THROTTLES = (SignInAddressThrottle, SignInUsernameThrottle)


def sign_in_wait(request):
    """For sign-in forms outside DRF (the Django admin): None if this attempt may go on,
    else the seconds to wait. Every throttle counts the attempt, as DRF's check does."""
    waits = []
    for throttle_class in SIGN_IN_THROTTLES:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait() or 1)
    return max(waits) if waits else None
