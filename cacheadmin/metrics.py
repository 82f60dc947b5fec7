"""Prometheus metrics of the response cache, the throttles and the warm jobs.

Importable from any process (gunicorn worker, Celery worker, management command): it
needs neither Django's settings nor the database, only prometheus-client, and knows no
domain (a read is its declared name, a throttle its scope).

With PROMETHEUS_MULTIPROC_DIR set *before the process starts* (gunicorn.conf.py sets it
for its workers; a Celery worker on the same host is started with the same directory),
every process writes its values to files there and /metrics adds them up
(prometheus-client's multiprocess mode; README, "Metrics"). Without it (tests,
runserver) the values live in this process's default registry.

The hot path (one cached read) adds the answer up in memory; the counter and the histogram
are written when the cache relay's thread flushes, every REDIS_CACHE_RELAY_SECONDS, before a
scrape this process serves, and at its exit (see `PendingReads`). So another process's last
answers may reach a scrape up to one relay round late.
"""

import atexit
import bisect
import os
import threading
import time

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from cacheadmin.metrics_files import directory as multiprocess_dir

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"  # the X-Cache values (cacheadmin.cache)
OUTCOMES = (HIT, MISS, BYPASS)
WARM_JOB_STATES = ("queued", "running", "done", "failed")  # a job's states in the API (admin/cache/jobs/{job}/)

# Seconds from the view's entry to its response: hits are around a millisecond, misses more.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Bytes of a stored answer, up to REDIS_CACHE_MAX_ENTRY_MB (8 MB by default).
SIZE_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)


if multiprocess_dir():
    os.makedirs(multiprocess_dir(), exist_ok=True)  # prometheus-client writes there on the first metric

CACHED_READS = Counter(
    "reader_cache_reads",
    "Answers of cached reads, by read and X-Cache outcome (HIT, MISS, BYPASS).",
    ["read", "outcome"],
)
READ_SECONDS = Histogram(
    "reader_cache_read_seconds",
    "Seconds from the view's entry to its response, per cached read and outcome.",
    ["read", "outcome"],
    buckets=LATENCY_BUCKETS,
)
ANSWER_BYTES = Histogram(
    "reader_cache_answer_bytes",
    "Size of each answer stored in Redis, as encoded (answers too large to store are not counted).",
    ["read"],
    buckets=SIZE_BUCKETS,
)
BREAKER_OPEN = Gauge(
    "reader_cache_breaker_open",
    "1 while this process keeps Redis out of requests after a failure, until a call succeeds again.",
    multiprocess_mode="liveall",  # one series per live process (pid label); dead ones are dropped
)
BREAKER_TRIPS = Counter(
    "reader_cache_breaker_trips",
    "Redis calls that failed and (re)opened the circuit breaker.",
)
RELAY_CATCH_UPS = Counter(
    "reader_cache_relay_catch_ups",
    "Relay comparisons of the database's missed invalidations with Redis: trigger 'check' (periodic) "
    "or 'failure' (the first call after a Redis failure or a missed retirement).",
    ["trigger"],
)
EPOCH_BUMPS = Counter(
    "reader_cache_epoch_bumps",
    "Times the relay retired every cached answer: reason 'missed' (invalidations Redis never saw) "
    "or 'restart' (Redis restarted, maybe with old data).",
    ["reason"],
)
RETIREMENTS = Counter(
    "reader_cache_retirements",
    "Invalidations after a write (one pipeline of generations each): 'sent' to Redis, or 'missed' "
    "(Redis unreachable; counted in the database for the relay).",
    ["result"],
)
LEASE_WAITS = Counter(
    "reader_cache_lease_waits",
    "Misses that waited for another process computing the same answer: 'answered' when its answer "
    "came in time, 'timed_out' when they computed it themselves.",
    ["read", "result"],
)
WARM_JOBS = Counter(
    "reader_cache_warm_jobs",
    "Warm jobs entering each state (queued, running, done, failed).",
    ["state"],
)
THROTTLED = Counter(
    "reader_throttled_requests",
    "Requests refused with 429, by throttle scope.",
    ["scope"],
)

# (read, outcome) -> (counter child, histogram child): labels() takes a lock and builds a
# tuple on every call; a plain dict lookup is what a flush can afford.
_read_children = {}


def _children(read, outcome):
    children = _read_children.get((read, outcome))
    if children is None:
        children = _read_children[(read, outcome)] = (
            CACHED_READS.labels(read, outcome),
            READ_SECONDS.labels(read, outcome),
        )
    return children


class Tally:
    """Counts the hot path adds up in memory, for a flush to write out in one go: the counts
    (`empty()` makes them), a lock, and when they were last taken. A forked child starts with
    none: what its parent had added up is the parent's to write."""

    FLUSH_SECONDS = 1.0

    def __init__(self):
        self._forget()
        self.flushed_at = time.monotonic()
        os.register_at_fork(after_in_child=self._forget)

    @staticmethod
    def empty():
        raise NotImplementedError

    def _forget(self):
        self._lock = threading.Lock()
        self._pending = self.empty()

    def due(self):
        return bool(self._pending) and time.monotonic() - self.flushed_at >= self.FLUSH_SECONDS

    def take(self):
        """The counts added up so far, which start again from none."""
        with self._lock:
            pending, self._pending = self._pending, self.empty()
            self.flushed_at = time.monotonic()
        return pending


class PendingReads(Tally):
    """The cached reads answered since the last flush, added up per read and outcome.

    A cached read is the hot path: in multiprocess mode each write of a value is an update
    of an mmap'd file under a lock, three per answer. Answers are added up here instead and
    written by flush(): the cache relay's thread flushes each round
    (REDIS_CACHE_RELAY_SECONDS), whether Redis answers or not; a scrape served by this
    process flushes first, and so does the process's exit. A process with no relay thread
    (the relay turned off, or the cache) flushes on an answer once a second.
    """

    empty = dict  # (read, outcome) -> [answers, seconds in all, answers per latency bucket]

    def add(self, read, outcome, seconds):
        bucket = bisect.bisect_left(LATENCY_BUCKETS, seconds)  # the first bucket with seconds <= le
        with self._lock:
            counts = self._pending.get((read, outcome))
            if counts is None:
                counts = self._pending[(read, outcome)] = [0, 0.0, [0] * (len(LATENCY_BUCKETS) + 1)]
            counts[0] += 1
            counts[1] += seconds
            counts[2][bucket] += 1

    def flush(self):
        """Write what was added up to the metrics: one increment per read and outcome, and per
        latency bucket that was reached (what Histogram.observe writes, added up)."""
        for (read, outcome), (answers, seconds, buckets) in self.take().items():
            counter, histogram = _children(read, outcome)
            counter.inc(answers)
            histogram._sum.inc(seconds)
            for value, reached in zip(histogram._buckets, buckets, strict=True):
                if reached:
                    value.inc(reached)


pending_reads = PendingReads()
atexit.register(pending_reads.flush)


def cached_read(read, outcome, seconds):
    """One answer of a cached read: the hot path (added up, written by the next flush)."""
    pending_reads.add(read, outcome, seconds)


def flush():
    """Write the answers added up so far (PendingReads)."""
    pending_reads.flush()


def answers_stored(sizes):
    """(read, bytes) of each answer just written to Redis."""
    for read, size in sizes:
        ANSWER_BYTES.labels(read).observe(size)


def breaker_tripped():
    BREAKER_TRIPS.inc()
    BREAKER_OPEN.set(1)


def breaker_closed():
    BREAKER_OPEN.set(0)


def relay_caught_up(after_failure, retired, restarted):
    RELAY_CATCH_UPS.labels("failure" if after_failure else "check").inc()
    if retired:
        EPOCH_BUMPS.labels("restart" if restarted else "missed").inc()


def epoch_bumped(reason):
    """Every answer retired at once: 'missed' (retirements Redis never saw) or 'restart' (another server)."""
    EPOCH_BUMPS.labels(reason).inc()


def retirement(result):
    """result: 'sent' or 'missed'."""
    RETIREMENTS.labels(result).inc()


def lease_waited(read, answered):
    LEASE_WAITS.labels(read, "answered" if answered else "timed_out").inc()


def warm_job(state):
    """A warm job entered `state` (one of WARM_JOB_STATES): the Celery task calls this."""
    if state not in WARM_JOB_STATES:
        raise ValueError(f"Unknown warm job state {state!r}; one of {', '.join(WARM_JOB_STATES)}.")
    WARM_JOBS.labels(state).inc()


def throttled(scope):
    """A request refused by the throttle of this scope: the throttle classes call this."""
    THROTTLED.labels(scope or "unknown").inc()


def declare_reads(names):
    """Show a zero for every read and outcome not counted yet, so rates start at once."""
    for name in names:
        for outcome in OUTCOMES:
            CACHED_READS.labels(name, outcome)


def declare_known_labels():
    for state in WARM_JOB_STATES:
        WARM_JOBS.labels(state)
    for result in ("sent", "missed"):
        RETIREMENTS.labels(result)
    for trigger in ("check", "failure"):
        RELAY_CATCH_UPS.labels(trigger)
    for reason in ("missed", "restart"):
        EPOCH_BUMPS.labels(reason)


declare_known_labels()


def collected():
    """What a scrape reads: in multiprocess mode the values of every process, live or ended,
    added up from the shared directory (counters and histograms summed, the breaker gauge
    per live process); else this process's registry."""
    directory = multiprocess_dir()
    if directory is None:
        return DEFAULT_REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return registry


def exposition():
    """Every metric of this deployment in Prometheus' text format (0.0.4): bytes. This process's
    answers not yet written are written first."""
    flush()
    return generate_latest(collected())


def serve(port, addr="127.0.0.1"):
    """Serve the metrics over plain HTTP, without authentication, from a background thread:
    for a process with no Django view of its own (a Celery worker in a container of its own).
    Bind it to an address only Prometheus reaches. (server, thread)."""
    from prometheus_client import start_http_server

    return start_http_server(port, addr, registry=collected())


def process_exited(pid):
    """Drop the live-only gauges of a process that ended (gunicorn's child_exit, Celery's
    worker_process_shutdown); its counters stay in the sums."""
    directory = multiprocess_dir()
    if directory is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, directory)
