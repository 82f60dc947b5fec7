"""The response cache: the one door to Redis for cached reads and their invalidation.

Reads validate their answer against the current generations in the same MGET that
fetches it (see cacheadmin.keys). Failures open a per-process circuit breaker, so a
dead or hung Redis costs one timeout per `REDIS_CACHE_RETRY_SECONDS`, not one per
request. Invalidations that cannot reach Redis are counted in the database and the
Relay retires every answer once Redis answers again.
"""

import logging
import os
import random
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, close_old_connections, connections
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from books.models import readable
from cacheadmin import keys

log = logging.getLogger(__name__)

REDIS_ERRORS = (RedisError, ConnectionInterrupted, OSError)
LEASE_SECONDS = 5
LEASE_POLL_SECONDS = 0.01
STATS_KEY = "stats:reads"
HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"
APPLIED_KEY = "relay:missed-applied"


class CacheUnavailable(Exception):
    """Redis is turned off, unreachable, or resting after a failure."""


def new_generation():
    return str(random.getrandbits(62)).encode()


def generation_ttl():
    return 2 * max(settings.REDIS_CACHE_DEFAULT_TTL, settings.REDIS_CACHE_DYNAMIC_TTL) + 60


class Breaker:
    """Keeps a failing Redis out of the request path for a short while.

    After a failure every call is refused for REDIS_CACHE_RETRY_SECONDS; then a single
    call goes through as a probe while the others are still refused.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._open_until = 0.0
        self.trips = 0  # failures seen by this process: each cost one timeout at most

    def allow(self):
        if not self._open_until:
            return True
        with self._lock:
            now = time.monotonic()
            if now < self._open_until:
                return False
            self._open_until = now + settings.REDIS_CACHE_RETRY_SECONDS
            return True

    def failed(self):
        self.trips += 1
        self._open_until = time.monotonic() + settings.REDIS_CACHE_RETRY_SECONDS

    def succeeded(self):
        self._open_until = 0.0


@dataclass(frozen=True)
class Entry:
    """A stored answer: the generations it was computed under, its payload, its facts."""

    tags: list
    payload: object
    meta: dict = field(default_factory=dict)

    def readable_by(self, user_id):
        owner = self.meta.get("owner")
        return owner is None or readable(owner, self.meta.get("visibility"), user_id)


class StatsCounter:
    """Hits and misses per namespace, added up in memory and flushed in one pipeline."""

    FLUSH_SECONDS = 1.0

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = Counter()
        self._flushed_at = time.monotonic()

    def count(self, namespace, outcome):
        with self._lock:
            self._pending[f"{namespace}:{outcome}"] += 1

    def due(self):
        return bool(self._pending) and time.monotonic() - self._flushed_at >= self.FLUSH_SECONDS

    def take(self):
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._flushed_at = time.monotonic()
        return pending

    def give_back(self, pending):
        with self._lock:
            self._pending.update(pending)


class ResponseCache:
    def __init__(self):
        self.breaker = Breaker()
        self.stats = StatsCounter()
        self.relay = Relay(self)

    # --- plumbing -------------------------------------------------------------

    @property
    def enabled(self):
        return settings.REDIS_CACHE_ENABLED

    @staticmethod
    def backend():
        """django-redis' cache: key names, (de)serialising and the Redis client."""
        return caches["default"]

    def name(self, logical_key, backend=None):
        return (backend or self.backend()).make_key(logical_key)

    def run(self, operation, backend=None):
        """Run operation(redis_client) through the breaker; CacheUnavailable on failure.

        After a failure (or a missed invalidation) the first call that reaches Redis
        again catches up with the database before its own operation: nothing stored
        before the outage is served until then.
        """
        if not self.enabled or not self.breaker.allow():
            raise CacheUnavailable
        if self.relay.thread is None:
            self.relay.ensure_running()
        client = (backend or self.backend()).client.get_client(write=True)
        try:
            if self.relay.pending and operation != self.relay.catch_up:
                self.relay.catch_up(client)
            result = operation(client)
        except REDIS_ERRORS as error:
            self.breaker.failed()
            self.relay.pending = True
            log.warning("Redis unavailable: %s", error)
            raise CacheUnavailable from error
        self.breaker.succeeded()
        return result

    def available(self):
        try:
            return self.run(lambda client: client.ping())
        except CacheUnavailable:
            return False

    # --- reads ----------------------------------------------------------------

    def fetch(self, read, params, compute):
        """(entry, outcome) for read(params): from Redis when still valid, else computed.

        compute() returns (payload, meta) from the database. Of concurrent misses on
        one key, one computes under a lease while the others wait briefly for its answer.
        """
        try:
            entry, tags = self.lookup(read, params)
            if entry is not None:
                return self._counted(read, entry, HIT)
            tags = self.fill_generations(read, params, tags)
            if not self.take_lease(read, params):
                entry = self.wait_for(read, params)
                return self._counted(read, entry or Entry(tags, *compute()), HIT if entry else MISS)
        except CacheUnavailable:
            return Entry([], *compute()), BYPASS
        entry, stored = self._compute_and_store(read, params, tags, compute)
        return self._counted(read, entry, MISS) if stored else (entry, BYPASS)

    def warm(self, read, params, compute):
        """Compute and store read(params) unless a valid answer is there; True if stored."""
        entry, tags = self.lookup(read, params)
        if entry is not None:
            return False
        tags = self.fill_generations(read, params, tags)
        if not self.take_lease(read, params):
            return False
        if not self._compute_and_store(read, params, tags, compute)[1]:
            raise CacheUnavailable
        return True

    def _compute_and_store(self, read, params, tags, compute):
        """Under the lease just taken: compute, then store (which frees the lease).

        (entry, stored); the entry is good to serve even when Redis failed to take it.
        """
        try:
            entry = Entry(tags, *compute())
        except BaseException:
            self.drop_lease(read, params)
            raise
        try:
            self.store(read, params, entry)
        except CacheUnavailable:
            return entry, False
        return entry, True

    def _counted(self, read, entry, outcome):
        if read.namespace in keys.NAMESPACES:
            self.stats.count(read.namespace, "hits" if outcome == HIT else "misses")
        return entry, outcome

    def lookup(self, read, params):
        """The stored entry (None unless still valid) and the current generations."""
        return self.lookup_many([(read, params)])[0]

    def lookup_many(self, reads):
        """lookup() for several (read, params) pairs in one MGET."""
        backend = self.backend()
        names, spans = [], []
        for read, params in reads:
            gens = read.generations(**params)
            names.append(backend.make_key(read.key(**params)))
            names.extend(backend.make_key(gen) for gen in gens)
            spans.append(1 + len(gens))
        values = self.run(lambda client: client.mget(names), backend)
        if self.relay.thread is None and self.stats.due():  # else the relay thread flushes
            self.flush_stats()
        found, start = [], 0
        for span in spans:
            raw, *tags = values[start : start + span]
            found.append((self._valid_entry(raw, tags, backend), tags))
            start += span
        return found

    @staticmethod
    def _valid_entry(raw, tags, backend):
        if raw is None or None in tags:
            return None
        try:
            entry = Entry(*backend.client.decode(raw))
        except (ValueError, TypeError):  # not ours, or from an older release: a miss
            return None
        return entry if entry.tags == tags else None

    def count_hit(self, read):
        self._counted(read, None, HIT)

    def fill_generations(self, read, params, tags):
        """Give missing generations a value, so an answer is never tagged 'missing'."""
        gens = read.generations(**params)
        if None not in tags:
            return tags
        names = list(map(self.name, gens))

        def fill(client):
            pipe = client.pipeline(transaction=False)
            for name, tag in zip(names, tags, strict=True):
                if tag is None:
                    pipe.set(name, new_generation(), nx=True, ex=generation_ttl())
            pipe.mget(names)
            return pipe.execute()[-1]

        return self.run(fill)

    def store(self, read, params, entry):
        value = self.backend().client.encode([entry.tags, entry.payload, entry.meta], allow_int=False)
        name = self.name(read.key(**params))

        ttl = settings.REDIS_CACHE_DYNAMIC_TTL if entry.meta.get("missing") else read.ttl  # "no such object"

        def put(client):
            pipe = client.pipeline(transaction=False)
            pipe.set(name, value, ex=ttl)
            pipe.delete(self._lease_name(name))
            pipe.execute()

        self.run(put)

    def _lease_name(self, name):
        return f"{name}:lease"

    def take_lease(self, read, params):
        name = self._lease_name(self.name(read.key(**params)))
        return bool(self.run(lambda client: client.set(name, 1, nx=True, ex=LEASE_SECONDS)))

    def drop_lease(self, read, params):
        name = self._lease_name(self.name(read.key(**params)))
        with suppress(CacheUnavailable):
            self.run(lambda client: client.delete(name))

    def wait_for(self, read, params):
        """Wait briefly for the lease holder's answer; None when it does not come."""
        deadline = time.monotonic() + settings.REDIS_CACHE_LEASE_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(LEASE_POLL_SECONDS)
            entry, _ = self.lookup(read, params)
            if entry is not None:
                return entry
        return None

    def flush_stats(self):
        pending = self.stats.take()
        if not pending:
            return
        name = self.name(STATS_KEY)

        def flush(client):
            pipe = client.pipeline(transaction=False)
            for field_name, amount in pending.items():
                pipe.hincrby(name, field_name, amount)
            pipe.execute()

        try:
            self.run(flush)
        except CacheUnavailable:
            self.stats.give_back(pending)

    # --- writes ---------------------------------------------------------------

    def invalidate(self, generations):
        """Retire every answer computed under these generations (called after commit)."""
        if not self.enabled:
            return
        names = [self.name(gen) for gen in set(generations)]

        def replace(client):
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.set(name, new_generation(), ex=generation_ttl())
            pipe.execute()

        try:
            self.run(replace)
        except CacheUnavailable:
            self.relay.missed()


class Relay:
    """Retires every cached answer when Redis may hold answers older than the database.

    That happens when an invalidation could not reach Redis (the process that missed it
    counts it in the database, where every process sees it), or when Redis restarted
    (its run_id changed) and may have come back with data older than its last write.
    Each process checks every REDIS_CACHE_RELAY_SECONDS in a background thread.
    """

    BUMP = """
    local applied = tonumber(redis.call('GET', KEYS[1]) or '-1')
    if applied < tonumber(ARGV[1]) or ARGV[3] == '1' then
        redis.call('SET', KEYS[2], ARGV[2])
        redis.call('SET', KEYS[1], ARGV[1])
        return 1
    end
    return 0
    """

    def __init__(self, cache):
        self.cache = cache
        self._run_id = None
        self.thread = None
        # A forked worker (gunicorn) starts a relay thread of its own on first use.
        os.register_at_fork(after_in_child=self._forget_thread)
        self._wake = threading.Event()
        self._stopping = False
        self.pending = False  # Redis failed or missed an invalidation since the last catch-up

    @property
    def interval(self):
        return settings.REDIS_CACHE_RELAY_SECONDS

    def missed(self):
        from cacheadmin.models import InvalidationLog

        self.pending = True
        try:
            InvalidationLog.record_miss()
        except Exception:
            log.exception("Could not record a missed cache invalidation")
        self.wake()

    def wake(self):
        if self.interval > 0:
            self.ensure_running()
            self._wake.set()

    def check(self):
        """Catch up with the database now; True if every cached answer was retired."""
        return self.cache.run(self.catch_up)

    def catch_up(self, client):
        """Retire every answer if the database counted invalidations Redis has not seen,
        or Redis restarted since this process last looked."""
        from cacheadmin.models import InvalidationLog

        try:
            missed = InvalidationLog.missed_count()
        except DatabaseError as error:
            raise CacheUnavailable from error  # nothing can be trusted until we know
        run_id = client.info("server").get("run_id")
        restarted = self._run_id is not None and run_id != self._run_id
        retired = client.eval(
            self.BUMP,
            2,
            self.cache.name(APPLIED_KEY),
            self.cache.name(keys.EPOCH_GEN),
            missed,
            new_generation(),
            "1" if restarted else "0",
        )
        self._run_id = run_id
        self.pending = False
        return bool(retired)

    def ensure_running(self):
        if self.interval <= 0 or not self.cache.enabled:
            return
        if self.thread is not None and self.thread.is_alive():
            return
        self.thread = threading.Thread(target=self._loop, name="cache-relay", daemon=True)
        self.thread.start()

    def _loop(self):
        while self.interval > 0 and not self._stopping:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                close_old_connections()
                self.check()
                self.cache.flush_stats()
            except CacheUnavailable:
                pass
            except Exception:
                log.exception("Cache relay check failed")
        connections.close_all()  # this thread's own connections

    def stop(self):
        self._stopping = True
        self._wake.set()
        if self.thread is not None:
            self.thread.join(5)
        self._forget_thread()

    def _forget_thread(self):
        self.thread, self._stopping = None, False


response_cache = ResponseCache()
