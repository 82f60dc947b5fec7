"""What the admin's cache panel shows beyond operations.stats(): the last hour per read,
this app's own memory, the Redis in use, and readable durations.

The last hour comes from the per-minute hashes that ResponseCache.flush_stats keeps
(``stats:minute:{epoch minute}``, each expiring after two hours, so the series is bounded)
and ``stats:since`` (when counting started). Every Redis call goes through
response_cache.run: CacheUnavailable while Redis is unreachable.
"""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings

from cacheadmin import operations
from cacheadmin.cache import STATS_MINUTE_KEY, STATS_SINCE_KEY, response_cache
from cacheadmin.registry import registry

MINUTES = 60  # the charts' window
MEMORY_SAMPLE = 1000  # MEMORY USAGE is asked of at most this many keys


@dataclass
class ReadSeries:
    """One read's hits and misses per minute, oldest first."""

    name: str
    hits: list = field(default_factory=list)
    misses: list = field(default_factory=list)

    @property
    def requests(self):
        return [h + m for h, m in zip(self.hits, self.misses, strict=True)]

    @property
    def hit_rates(self):
        """Percent per minute; None for a minute without requests."""
        return [round(100.0 * h / (h + m), 1) if h + m else None for h, m in zip(self.hits, self.misses, strict=True)]

    @property
    def total_hits(self):
        return sum(self.hits)

    @property
    def total_misses(self):
        return sum(self.misses)

    @property
    def hit_rate(self):
        total = self.total_hits + self.total_misses
        return round(100.0 * self.total_hits / total, 1) if total else None

    @property
    def per_minute(self):
        return round((self.total_hits + self.total_misses) / len(self.hits), 1) if self.hits else 0.0


@dataclass
class LastHour:
    minutes: list  # epoch minutes, oldest first
    reads: list  # [ReadSeries], in declaration order
    since: datetime | None  # when the counters started


def last_hour(now=None, minutes=MINUTES):
    """The last `minutes` minutes (the current one included) for every declared read."""
    response_cache.flush_stats()
    current = int(now if now is not None else time.time()) // 60
    window = list(range(current - minutes + 1, current + 1))
    names = [read.name for read in registry.response_reads()]

    def read(client):
        pipe = client.pipeline(transaction=False)
        for minute in window:
            pipe.hgetall(response_cache.name(f"{STATS_MINUTE_KEY}:{minute}"))
        pipe.get(response_cache.name(STATS_SINCE_KEY))
        return pipe.execute()

    *hashes, since = response_cache.run(read)
    series = {name: ReadSeries(name) for name in names}
    for counts in hashes:
        counts = {_text(key): _int(value) for key, value in counts.items()}
        for name, one in series.items():
            one.hits.append(counts.get(f"{name}:hits", 0))
            one.misses.append(counts.get(f"{name}:misses", 0))
    started = datetime.fromtimestamp(_int(since), tz=UTC) if since is not None else None
    return LastHour(minutes=window, reads=list(series.values()), since=started)


@dataclass
class AppMemory:
    bytes: int
    keys: int  # response keys in all
    sampled: int  # of which MEMORY USAGE was asked

    @property
    def estimated(self):
        return self.sampled < self.keys


def app_memory(sample=MEMORY_SAMPLE):
    """The memory of this app's cached answers: the sum of MEMORY USAGE of its response keys.

    At most `sample` keys are measured; with more, the sum is scaled up (an estimate).
    """

    def measure(client):
        names, total = [], 0
        for name, _ in operations.response_keys(client, "*"):
            total += 1
            if len(names) < sample:
                names.append(name)
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.memory_usage(name)
        sizes = [size or 0 for size in pipe.execute()] if names else []
        measured = sum(sizes)
        if names and total > len(names):
            measured = round(measured * total / len(names))
        return AppMemory(bytes=measured, keys=total, sampled=len(names))

    return response_cache.run(measure)


def redis_in_use():
    """'host:port/db', or 'Sentinel master "name" (db n)': never a password."""
    target = settings.REDIS
    if target.uses_sentinel:
        return f'Sentinel master "{target.master}", database {target.db}'
    parts = urlsplit(target.url)
    if parts.scheme == "unix":
        return f"{parts.path} (Unix socket)"
    return f"{parts.hostname}:{parts.port or 6379}/{target.db}" + (" (TLS)" if parts.scheme == "rediss" else "")


UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def duration(seconds, most=4):
    """A time as people read it: '1 h 30 min', '90 s' -> '1 min 30 s', '0 s'. `most` keeps the
    largest units only (an uptime: '3 d 4 h', '5 h 12 min')."""
    if seconds is None:
        return "—"
    rest, parts = int(seconds), []
    for name, length in UNITS:
        amount, rest = divmod(rest, length)
        if amount or parts:
            parts.append(f"{amount} {name}" if amount else "")
    return " ".join(part for part in parts[:most] if part) or "0 s"


def size(num_bytes):
    """'812 B', '3.4 KB', '12.1 MB'."""
    if num_bytes is None:
        return "—"
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if num_bytes >= scale:
            return f"{num_bytes / scale:,.1f} {unit}"
    return f"{num_bytes} B"


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
