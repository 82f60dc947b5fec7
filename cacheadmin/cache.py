"""The response cache: the one door to Redis for cached reads and their retirement.

An answer is stored under its read's logical key (cacheadmin.registry) together with
the *generations* it was computed under: short random tokens kept under ``gen:*``
names. A read validates its answer against the current generations in the same MGET
that fetches it; a write replaces the generations it touches, so every answer computed
before it stops validating at once, whatever its key, in a few SETs however many keys
Redis holds. An answer computed from data read before a write can never be stored as
current after it: it carries the older generation.

Reads go through a per-process circuit breaker, so a dead or hung Redis costs one
timeout per `REDIS_CACHE_RETRY_SECONDS`, not one per request; retirements always try.
Retirements that cannot reach Redis are counted in the database and the Relay retires
every answer once Redis answers again; a server that is not the one the answers were
written on (a restart, a failover) retires them all before its first answer
(cacheadmin.connections).
"""

import logging
import os
import random
import socket
import threading
import time
from collections import Counter
from contextlib import suppress
from typing import NamedTuple

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, close_old_connections, connections
from django.http import Http404
from django_redis.exceptions import CompressorError, ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework.exceptions import NotFound

from cacheadmin import metrics
from cacheadmin.connections import round_trip
from cacheadmin.registry import DYNAMIC, EPOCH_GENERATION, registry, ttl_seconds
from cacheadmin.snapshot import snapshot

log = logging.getLogger(__name__)

REDIS_ERRORS = (RedisError, ConnectionInterrupted, OSError)
NOT_FOUND = (NotFound, Http404, ObjectDoesNotExist)  # what a builder raises for what does not exist
LEASE_SECONDS = 5
WARM_BATCH = 500  # answers per MGET and pipeline when warming
LEASE_POLL_SECONDS = 0.01
STATS_KEY = "stats:reads"
STATS_MINUTE_KEY = "stats:minute"  # + ":{epoch minute}": that minute's counts, kept STATS_MINUTE_SECONDS
STATS_MINUTE_SECONDS = 2 * 3600
STATS_SINCE_KEY = "stats:since"  # when the counters started (epoch seconds)
HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"
APPLIED_KEY = "relay:missed-applied"
SERVER_KEY = "relay:server"  # run_id of the server that last checked itself (Relay.BUMP)
LEADER_KEY = "relay:leader"  # the process that compares with the database every round (Relay.LEAD)
LEASE_ROUNDS = 3  # the leader's lease, in relay rounds: another process takes over after that


def window_commands(name, seconds):
    """Commands counting one request in the fixed window `name` (the throttles' counters): the
    count, and the window as TTL if the counter has none (it was just created). Sent in one
    packet, they run together: a counter is never left without a TTL. window_count() reads
    their replies."""
    return [("INCR", name), ("EXPIRE", name, seconds, "NX")]


WINDOW_REPLIES = len(window_commands("", 1))


def window_count(replies, seconds):
    """(requests in the window, seconds until it ends) from window_commands' replies; the
    seconds are None when the window did not start with this request (ask Redis, with PTTL,
    only if they are needed: a refused request's Retry-After)."""
    count, started = replies
    return count, seconds if started else None


def key_namer(backend):
    """name(key) for a django-redis cache: the name its make_key gives a key (its KEY_FUNCTION,
    prefix and version), without the CacheKey object make_key wraps each name in."""
    key_func, prefix, version = backend.key_func, backend.key_prefix, backend.version
    return lambda key: key_func(key, prefix, version)


class OwnCache(NamedTuple):
    cache: object  # the alias' django-redis cache
    name: object  # name(key), as cache.make_key names it (key_namer)
    location: object  # the alias' LOCATION


_own = (None, {})  # (the settings.CACHES they were made from, {alias: OwnCache})


def own_cache(alias):
    """The engine's own instance of a cache alias (caches.create_connection), made once per
    settings.CACHES: never one a request thread opens as caches[alias]. Django closes every
    cache a thread has opened after each of its requests, a call that does nothing for
    django-redis (its connections stay pooled) and that every hit would pay. Its
    connections are the alias' pool all the same."""
    global _own
    setting, made = _own
    if setting is not settings.CACHES:
        setting, made = _own = (settings.CACHES, {})
    own = made.get(alias)
    if own is None:
        cache = caches.create_connection(alias)
        own = made[alias] = OwnCache(cache, key_namer(cache), setting[alias]["LOCATION"])
    return own


def decode_entry(backend, raw):
    """A stored entry, decoded as django-redis' DefaultClient.decode() does, less its first step:
    store() never writes a plain integer (encode(allow_int=False)), and the failed int() that
    decode() tries first formats the repr of the whole value (a chapter's 20 KB) on every hit."""
    client = backend.client
    with suppress(CompressorError):  # a value too small to be compressed was stored as is
        raw = client._compressor.decompress(raw)
    return client._serializer.loads(raw)


class CacheUnavailable(Exception):
    """Redis is turned off, unreachable, or resting after a failure."""


def new_generation():
    return str(random.getrandbits(62)).encode()


def max_entry_bytes():
    return int(settings.REDIS_CACHE_MAX_ENTRY_MB * 1024 * 1024)


class Breaker:
    """Keeps a failing Redis out of the request path for a short while.

    After a failure every call is refused for REDIS_CACHE_RETRY_SECONDS; then a single
    call goes through as a probe while the others are still refused.
    """

    def __init__(self, counted=True):
        self._lock = threading.Lock()
        self._open_until = 0.0
        self.trips = 0  # failures seen by this process: each cost one timeout at most
        self.counted = counted  # in the response cache's breaker metrics

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
        if self.counted:
            metrics.breaker_tripped()
        self._open_until = time.monotonic() + settings.REDIS_CACHE_RETRY_SECONDS

    def succeeded(self):
        if self._open_until and self.counted:
            metrics.breaker_closed()
        self._open_until = 0.0

    @property
    def open(self):
        return bool(self._open_until)


class Entry(NamedTuple):
    """An answer: the generations it was computed under, its payload, and the read's
    opaque meta (the engine adds nothing but what its hooks need). A tuple: two are made
    on every hit (the token's user and the answer)."""

    generations: list
    payload: object
    meta: dict
    store: bool = True  # False: answered, never stored


class StatsCounter(metrics.Tally):
    """Hits and misses per read, added up in memory and flushed in one pipeline."""

    empty = Counter

    def count(self, read_name, outcome):
        with self._lock:
            self._pending[f"{read_name}:{outcome}"] += 1

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
        """django-redis' cache of the default alias: key names, (de)serialising and the Redis
        client (own_cache)."""
        return own_cache("default").cache

    def name(self, logical_key, backend=None):
        return (backend or self.backend()).make_key(logical_key)

    def run(self, operation, backend=None, *, force=False):
        """Run operation(redis_client) through the breaker; CacheUnavailable on failure.

        `force` tries Redis even while the breaker rests (bounded by the socket timeout):
        retirements must reach Redis whenever it answers. After a failure (or a missed
        retirement) the first call that reaches Redis again catches up with the database
        before its own operation: nothing stored before the outage is served until then.
        """
        if not self.enabled or not (self.breaker.allow() or force):
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

    def fetch(self, read, params, compute, found=None):
        """(entry, outcome) for read(params): from Redis when still valid, else computed.

        compute() returns an Entry-to-be: (payload, meta, store). `found` is a lookup()
        result the caller already has. Of concurrent misses on one key, one computes
        under a lease while the others wait briefly for its answer.
        """
        try:
            entry, generations = found if found is not None else self.lookup(read, params)
            if entry is not None:
                return self._counted(read, entry, HIT)
            generations = self.fill_generations(read, params, generations)
            if not self.take_lease(read, params):
                entry = self.wait_for(read, params)
                metrics.lease_waited(read.name, entry is not None)
                if entry is not None:
                    return self._counted(read, entry, HIT)
                return self._counted(read, Entry(generations, *compute()), MISS)
        except CacheUnavailable:
            return Entry([], *compute()), BYPASS
        entry, stored = self._compute_and_store(read, params, generations, compute)
        return self._counted(read, entry, MISS) if stored else (entry, BYPASS)

    def _compute_and_store(self, read, params, generations, compute):
        """Under the lease just taken: compute, then store (which frees the lease).

        (entry, stored); the entry is good to serve even when it was not stored.
        """
        try:
            entry = Entry(generations, *compute())
        except BaseException:
            self.drop_lease(read, params)
            raise
        try:
            stored = self.store([(read, params, entry)])
        except CacheUnavailable:
            return entry, False
        return entry, bool(stored)

    def warm(self, plan, batch=WARM_BATCH):
        """Compute and store every (read, params, compute) of plan whose stored answer is
        not valid: per batch one MGET, one pipeline of generations, one of answers, and
        one database snapshot for the computing.

        (answers written, answers already valid). compute may raise the read's not-found
        error, which skips that answer. CacheUnavailable while Redis is unreachable.
        """
        written = valid = 0
        for start in range(0, len(plan), batch):
            part = plan[start : start + batch]
            found = self.lookup_many([(read, params) for read, params, _ in part])
            missing = [(item, gens) for item, (entry, gens) in zip(part, found, strict=True) if entry is None]
            valid += len(part) - len(missing)
            if not missing:
                continue
            filled = self.fill_many([(read, params, gens) for (read, params, _), gens in missing])
            entries = []
            with snapshot():  # begun after the generations were read: never older than them
                for ((read, params, compute), _), generations in zip(missing, filled, strict=True):
                    try:
                        entries.append((read, params, Entry(generations, *compute())))
                    except NOT_FOUND:
                        continue
            written += self.store(entries)
        return written, valid

    def _counted(self, read, entry, outcome):
        self.count(read, outcome)
        return entry, outcome

    def count(self, read, outcome):
        if registry.is_response(read):
            self.stats.count(read.name, "hits" if outcome == HIT else "misses")

    def lookup(self, read, params):
        """The stored entry (None unless still valid) and the current generations."""
        return self.lookup_many([(read, params)])[0]

    def lookup_many(self, reads):
        """lookup() for several (read, params) pairs in one MGET."""
        return self.look_ahead(reads)[0]

    def look_ahead(self, reads, windows=()):
        """(lookup_many(reads), counts) in one round trip.

        windows: (stored name, seconds) of fixed-window counters (the throttles') each counting
        one request in that round trip; counts: for each window, in order, (requests in the
        window, seconds until it ends or None) (window_count).
        """
        backend, name, _ = own_cache("default")
        names, spans = [], []
        for read, params in reads:
            keys = (read.key(params), *read.generation_names(params))
            names += map(name, keys)
            spans.append(len(keys))
        commands = [("MGET", *names)]
        for name, seconds in windows:
            commands += window_commands(name, seconds)
        values, *replies = self.run(lambda client: round_trip(client, commands), backend)
        counts = [
            window_count(replies[WINDOW_REPLIES * i : WINDOW_REPLIES * (i + 1)], seconds)
            for i, (_, seconds) in enumerate(windows)
        ]
        found, start = [], 0
        for span in spans:
            raw, *generations = values[start : start + span]
            found.append((self._valid_entry(raw, generations, backend), generations))
            start += span
        return found, counts

    @staticmethod
    def _valid_entry(raw, generations, backend):
        if raw is None or None in generations:
            return None
        try:
            entry = Entry(*decode_entry(backend, raw))
        except (ValueError, TypeError):  # not ours, or from an older release: a miss
            return None
        return entry if entry.generations == generations else None

    def fill_generations(self, read, params, generations):
        return self.fill_many([(read, params, generations)])[0]

    def fill_many(self, items):
        """Give missing generations a value, so an answer is never computed under 'missing'.

        A generation made here lives the dynamic TTL; storing an answer extends it to the
        answer's TTL. So a read of something that does not exist leaves nothing behind
        that outlives the dynamic TTL.
        """
        if all(None not in generations for _, _, generations in items):
            return [generations for _, _, generations in items]
        short = ttl_seconds(DYNAMIC)
        names = [[self.name(gen) for gen in read.generation_names(params)] for read, params, _ in items]

        def fill(client):
            pipe = client.pipeline(transaction=False)
            for item_names, (_, _, generations) in zip(names, items, strict=True):
                for name, value in zip(item_names, generations, strict=True):
                    if value is None:
                        pipe.set(name, new_generation(), nx=True, ex=short)
            for item_names in names:
                pipe.mget(item_names)
            return pipe.execute()[-len(names) :]

        return self.run(fill)

    def store(self, entries):
        """Store (read, params, entry) answers in one pipeline; how many were stored.

        Answers marked not to store, or larger than REDIS_CACHE_MAX_ENTRY_MB, are left
        out (their leases freed). Each stored answer's generations are kept alive at least
        as long as the answer. A "no such object" answer (meta `missing`) lives the
        dynamic TTL.
        """
        backend = self.backend()
        limit = max_entry_bytes()
        pipe_ops, sizes = [], []  # sizes: (read name, bytes) of each answer stored
        for read, params, entry in entries:
            name = self.name(read.key(params), backend)
            value = None
            if entry.store:
                value = backend.client.encode([entry.generations, entry.payload, entry.meta], allow_int=False)
                if len(value) > limit:
                    value = None
            gens = [self.name(gen, backend) for gen in read.generation_names(params)] if value else []
            # "No such object" lives the dynamic TTL only: asking for what does not exist
            # leaves nothing behind for longer.
            ttl = ttl_seconds(DYNAMIC) if entry.meta.get("missing") else read.ttl_seconds
            pipe_ops.append((name, value, ttl, gens))
            if value is not None:
                sizes.append((read.name, len(value)))

        def put(client):
            pipe = client.pipeline(transaction=False)
            for name, value, ttl, gens in pipe_ops:
                if value is not None:
                    pipe.set(name, value, ex=ttl)
                    for gen in gens:
                        pipe.expire(gen, ttl, gt=True)
                pipe.delete(self._lease_name(name))
            pipe.execute()

        if pipe_ops:
            self.run(put)
            metrics.answers_stored(sizes)
        return len(sizes)

    def _lease_name(self, name):
        return f"{name}:lease"

    def take_lease(self, read, params):
        name = self._lease_name(self.name(read.key(params)))
        return bool(self.run(lambda client: client.set(name, 1, nx=True, ex=LEASE_SECONDS)))

    def drop_lease(self, read, params):
        name = self._lease_name(self.name(read.key(params)))
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

    def flush_counts(self):
        """Write what this process added up: the answers to its metrics, the statistics per
        read to Redis (the relay thread, each round)."""
        metrics.flush()
        self.flush_stats()

    def flush_due_counts(self):
        """flush_counts() in a process with no relay thread (the relay or the cache turned
        off): each tally once a second, on an answer."""
        if metrics.pending_reads.due():
            metrics.flush()
        if self.stats.due():
            self.flush_stats()

    def flush_stats(self):
        pending = self.stats.take()
        if not pending:
            return
        name = self.name(STATS_KEY)
        now = int(time.time())
        minute = self.name(f"{STATS_MINUTE_KEY}:{now // 60}")  # the panel's last hour (a bounded series)

        def flush(client):
            pipe = client.pipeline(transaction=False)
            for field_name, amount in pending.items():
                pipe.hincrby(name, field_name, amount)
                pipe.hincrby(minute, field_name, amount)
            pipe.expire(minute, STATS_MINUTE_SECONDS)
            pipe.set(self.name(STATS_SINCE_KEY), now, nx=True)
            pipe.execute()

        try:
            self.run(flush)
        except CacheUnavailable:
            self.stats.give_back(pending)

    # --- writes ---------------------------------------------------------------

    def retire(self, generations):
        """Retire every answer computed under these generations (called after commit).

        Always tries Redis, even while reads rest after a failure; only when Redis
        cannot be reached is the retirement left to the relay. With the cache turned off
        in this process it is recorded as missed too: Redis may still hold answers that
        processes with the cache on (or this one, turned on again) would serve.
        With REDIS_REPLICA_WAIT_MS,
        it also waits (Redis WAIT) for REDIS_REPLICA_ACKS replicas to hold it: a retirement
        only the primary holds could be lost in a failover, so it is left to the relay too,
        which makes whichever server is primary next retire every answer.
        """
        if not generations:
            return
        if not self.enabled:
            self.relay.missed()
            return
        backend = self.backend()
        names = [(self.name(gen, backend), registry.generation_ttl(gen)) for gen in set(generations)]
        wait_ms, acks = settings.REDIS_REPLICA_WAIT_MS, settings.REDIS_REPLICA_ACKS

        def replace(client):
            pipe = client.pipeline(transaction=False)
            for name, ttl in names:
                pipe.set(name, new_generation(), ex=ttl)
            if wait_ms:
                pipe.wait(acks, wait_ms)
            return pipe.execute()

        try:
            replied = self.run(replace, backend, force=True)
        except CacheUnavailable:
            self.relay.missed()
            return
        if wait_ms and replied[-1] < acks:
            log.warning("A cache retirement reached %s of %s replicas: left to the relay", replied[-1], acks)
            self.relay.missed()
            return
        metrics.retirement("sent")


class Relay:
    """Retires every cached answer when Redis may hold answers older than the database.

    That happens when a retirement could not reach Redis, or reached only a primary
    no replica acknowledged (the process that missed it counts it in the database, where
    every process sees it), or when the server is not the one the answers were written
    on: Redis restarted (maybe with data older than its last write), or Sentinel promoted
    a replica that may not have received the last writes. A new connection is checked
    before its first command (check_server, see cacheadmin.connections); each process also
    checks every REDIS_CACHE_RELAY_SECONDS in a background thread (tick): the process
    that missed a retirement until it reached Redis, and one leader for all processes, so
    the database is asked a constant few times a second however many processes run.
    """

    # KEYS: relay:missed-applied, gen:epoch, relay:server. ARGV: the database's count of
    # missed retirements (-1: not compared), a new epoch. Retires everything (1) when the
    # database's count is not the one this server applied (ahead; or behind, after a
    # restore of the database), or this server's run_id is not the one recorded in its
    # data (replicated from the old primary, or loaded from disk).
    BUMP = """
    local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
    local missed = tonumber(ARGV[1])
    local applied = tonumber(redis.call('GET', KEYS[1]) or '-1')
    local changed = redis.call('GET', KEYS[3]) ~= run_id
    if (missed >= 0 and applied ~= missed) or changed then
        redis.call('SET', KEYS[2], ARGV[2])
        if missed >= 0 then redis.call('SET', KEYS[1], missed) end
        redis.call('SET', KEYS[3], run_id)
        if changed then return 2 end
        return 1
    end
    return 0
    """

    # KEYS: relay:leader. ARGV: this process, the lease in ms. 1: this process leads (it
    # took the free lease or renewed its own), 0: another one does.
    LEAD = """
    local holder = redis.call('GET', KEYS[1])
    if holder and holder ~= ARGV[1] then return 0 end
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
    """

    def __init__(self, cache):
        self.cache = cache
        self.thread = None
        # A forked worker (gunicorn) starts a relay thread of its own on first use.
        os.register_at_fork(after_in_child=self._after_fork)
        self._wake = threading.Event()
        self._stopping = False
        self._identity = None
        self.pending = False  # Redis failed or missed a retirement since the last catch-up

    @property
    def interval(self):
        return settings.REDIS_CACHE_RELAY_SECONDS

    def missed(self):
        from cacheadmin.models import InvalidationLog

        self.pending = True
        metrics.retirement("missed")
        try:
            InvalidationLog.record_miss()
        except Exception:
            log.exception("Could not record a missed cache retirement")
        self.wake()

    def wake(self):
        if self.interval > 0:
            self.ensure_running()
            self._wake.set()

    def check(self):
        """Catch up with the database now; True if every cached answer was retired."""
        return self.cache.run(self.catch_up)

    @property
    def identity(self):
        if self._identity is None:
            self._identity = f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32)}"
        return self._identity

    def lead(self, client):
        """Take or renew the leader's lease; True if this process leads."""
        lease_ms = max(1, int(self.interval * LEASE_ROUNDS * 1000))
        return bool(client.eval(self.LEAD, 1, self.cache.name(LEADER_KEY), self.identity, lease_ms))

    def tick(self):
        """One round of the relay thread: the leader, and a process that missed a
        retirement itself, catch up with the database; the others only keep in reach of
        the lease, to take over within LEASE_ROUNDS rounds if the leader goes."""
        leading = self.cache.run(self.lead)  # run() catches up first if this process missed one
        return self.check() if leading or self.pending else False

    def _keys(self):
        return [self.cache.name(name) for name in (APPLIED_KEY, EPOCH_GENERATION, SERVER_KEY)]

    def catch_up(self, client):
        """Retire every answer if the database counted retirements Redis has not seen,
        or this server is not the one the answers were written on."""
        from cacheadmin.models import InvalidationLog

        try:
            missed = InvalidationLog.missed_count()
        except DatabaseError as error:
            raise CacheUnavailable from error  # nothing can be trusted until we know
        retired = client.eval(self.BUMP, 3, *self._keys(), missed, new_generation())
        metrics.relay_caught_up(self.pending, retired, restarted=retired == 2)  # 2: another server
        self.pending = False
        return bool(retired)

    def check_server(self, connection):
        """On a new connection, before its first command: retire every answer unless this
        server is the one that last recorded itself. Raises RedisError (the connection
        then fails) when it cannot tell."""
        connection.send_command("EVAL", self.BUMP, 3, *self._keys(), -1, new_generation())
        retired = bool(connection.read_response())
        if retired:
            metrics.epoch_bumped("restart")
        return retired

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
                self.tick()
            except CacheUnavailable:
                pass
            except Exception:
                log.exception("Cache relay check failed")
            try:
                self.cache.flush_counts()  # the metrics even while Redis is away
            except Exception:
                log.exception("Flushing this process's counts failed")
        connections.close_all()  # this thread's own connections

    def stop(self):
        self._stopping = True
        self._wake.set()
        if self.thread is not None:
            self.thread.join(5)
        self._forget_thread()

    def _forget_thread(self):
        self.thread, self._stopping = None, False

    def _after_fork(self):
        self._forget_thread()
        self._identity = None  # a process of its own: never the parent's lease


response_cache = ResponseCache()
