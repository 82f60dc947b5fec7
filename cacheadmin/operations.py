"""Staff administration of the response cache: statistics, clearing and warming.

The DRF endpoints (cacheadmin.views), the Django admin panel (cacheadmin.admin, and
the Book actions in cacheadmin.actions) and the management commands (cache_stats,
cache_clear, cache_warm) all call these functions and nothing else.

Only keys of the response cache are ever counted or deleted: keys under this app's
prefix and version whose logical name passes keys.is_response_key. Generations
(``gen:*``), the statistics, the token cache (``auth:*``), leases, sessions and keys of
other programs in the same Redis database are never touched. Every Redis call goes
through response_cache.run, so a dead Redis raises CacheUnavailable after one timeout
at most (the circuit breaker), never a RedisError.
"""

import re
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import NotFound

from cacheadmin import keys
from cacheadmin.cache import STATS_KEY, CacheUnavailable, response_cache
from cacheadmin.responses import compute

SCAN_COUNT = 1000
DELETE_BATCH = 500
PATTERN_HELP = (
    "A pattern is 1 to 200 characters of letters, digits, ':', '_', '-' and '*' (the wildcard), such as 'book:7:*'."
)


class InvalidPattern(ValueError):
    """A clear pattern that keys.is_valid_pattern refuses."""

    def __init__(self, pattern):
        super().__init__(PATTERN_HELP)
        self.pattern = pattern


def unavailable_message():
    if not settings.REDIS_CACHE_ENABLED:
        return "The response cache is turned off (REDIS_CACHE_ENABLED is false)."
    return "Redis is unreachable, so the response cache is not available. Try again shortly."


def ttl_seconds():
    return {"static": settings.REDIS_CACHE_DEFAULT_TTL, "dynamic": settings.REDIS_CACHE_DYNAMIC_TTL}


def validate_pattern(pattern):
    if not isinstance(pattern, str) or not keys.is_valid_pattern(pattern):
        raise InvalidPattern(pattern)
    return pattern


# --- scanning the response cache --------------------------------------------------


def _stored_head():
    """What the cache puts before every logical key (prefix and version: 'reader:1:')."""
    head = response_cache.name("")
    if response_cache.name("probe") != f"{head}probe":
        raise ImproperlyConfigured("cacheadmin needs a KEY_FUNCTION that ends with the logical key.")
    return head


def _response_keys(client, pattern):
    """(stored name, logical key) of every response-cache key matching pattern."""
    head = _stored_head()
    match = response_cache.backend().client.make_pattern(pattern)  # django-redis escapes the prefix
    for name in client.scan_iter(match=match, count=SCAN_COUNT):
        text = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
        if text.startswith(head) and keys.is_response_key(text[len(head) :]):
            yield name, text[len(head) :]


def _delete_matching(patterns, wanted=None):
    """Delete the response keys matching any of patterns (and wanted(logical)); how many."""

    def delete(client):
        deleted = 0
        for pattern in patterns:
            batch = []
            for name, logical in _response_keys(client, pattern):
                if wanted is None or wanted(logical):
                    batch.append(name)
                if len(batch) >= DELETE_BATCH:
                    deleted += client.delete(*batch)
                    batch = []
            if batch:
                deleted += client.delete(*batch)
        return deleted

    return response_cache.run(delete)


# --- statistics -------------------------------------------------------------------


def _rate(hits, misses):
    total = hits + misses
    return round(100.0 * hits / total, 1) if total else 0.0


def stats():
    """This app's cache statistics; {"available": False, …} while Redis is unreachable.

    hits/misses are the reads the app counted (cacheadmin.cache.StatsCounter), not the
    server's keyspace_hits; keys_count counts response-cache keys under our prefix only.
    memory_used_mb, evictions, redis_version and uptime_seconds are the server's.
    """
    response_cache.flush_stats()  # this process's pending counts are included
    try:
        return response_cache.run(_read_stats)
    except CacheUnavailable:
        return {
            "available": False,
            "enabled": settings.REDIS_CACHE_ENABLED,
            "keys_count": None,
            "hits": None,
            "misses": None,
            "hit_rate_percent": None,
            "namespaces": {ns: {"keys": None, "hits": None, "misses": None} for ns in keys.NAMESPACES},
            "memory_used_mb": None,
            "evictions": None,
            "redis_version": None,
            "uptime_seconds": None,
            "ttl_seconds": ttl_seconds(),
        }


def _read_stats(client):
    counted_keys = Counter(logical.split(":", 1)[0] for _, logical in _response_keys(client, "*"))
    counters = {}
    for name, value in client.hgetall(response_cache.name(STATS_KEY)).items():
        name = name.decode() if isinstance(name, bytes) else name
        try:
            counters[name] = int(value)
        except (TypeError, ValueError):
            continue
    info = client.info()
    namespaces = {
        ns: {
            "keys": counted_keys.get(ns, 0),
            "hits": counters.get(f"{ns}:hits", 0),
            "misses": counters.get(f"{ns}:misses", 0),
        }
        for ns in keys.NAMESPACES
    }
    hits = sum(ns["hits"] for ns in namespaces.values())
    misses = sum(ns["misses"] for ns in namespaces.values())
    return {
        "available": True,
        "enabled": settings.REDIS_CACHE_ENABLED,
        "keys_count": sum(ns["keys"] for ns in namespaces.values()),
        "hits": hits,
        "misses": misses,
        "hit_rate_percent": _rate(hits, misses),
        "namespaces": namespaces,
        "memory_used_mb": round(int(info.get("used_memory", 0)) / (1024 * 1024), 2),
        "evictions": int(info.get("evicted_keys", 0)),
        "redis_version": info.get("redis_version"),
        "uptime_seconds": info.get("uptime_in_seconds"),
        "ttl_seconds": ttl_seconds(),
    }


# --- clearing ---------------------------------------------------------------------


def clear():
    """Delete every key of the response cache, and nothing else: {"deleted": n}."""
    return {"deleted": _delete_matching(["*"])}


def clear_pattern(pattern):
    """Delete the response-cache keys matching a logical pattern such as 'book:7:*'.

    InvalidPattern for a pattern keys.is_valid_pattern refuses; keys outside the
    response cache are never reached, whatever the pattern.
    """
    validate_pattern(pattern)
    return {"pattern": pattern, "deleted": _delete_matching([pattern])}


def preview_pattern(pattern, sample_size=10):
    """(how many response-cache keys match pattern, the first few of them, sorted)."""
    validate_pattern(pattern)

    def count(client):
        total, sample = 0, []
        for _, logical in _response_keys(client, pattern):
            total += 1
            if len(sample) < sample_size:
                sample.append(logical)
        return total, sorted(sample)

    return response_cache.run(count)


def count_pattern(pattern):
    return preview_pattern(pattern, sample_size=0)[0]


_BOOK_OF_KEY = re.compile(r"^(?:book:(\d+):|user:\d+:progress:(\d+)$)")


def clear_books(book_ids):
    """Delete the cached answers of these books (their reads and readers' progress)."""
    wanted_ids = {str(int(book_id)) for book_id in book_ids}
    if not wanted_ids:
        return 0

    def wanted(logical):
        found = _BOOK_OF_KEY.match(logical)
        return bool(found) and (found.group(1) or found.group(2)) in wanted_ids

    return _delete_matching(["book:*", "user:*:progress:*"], wanted)


# --- warming ----------------------------------------------------------------------


@dataclass
class WarmResult:
    books: int = 0  # books whose reads were computed (or found still valid)
    keys: int = 0  # answers written to Redis
    missing: list = field(default_factory=list)  # asked-for ids that do not exist

    def as_dict(self):
        return {"books": self.books, "keys": self.keys}

    def summary(self):
        return f"Warmed {self.books} book(s): {self.keys} cached answer(s) written."

    def missing_summary(self):
        return "No such book(s): " + ", ".join(map(str, self.missing)) + "." if self.missing else ""


def warm(book_ids=None, all_books=False, progress=None):
    """Compute and store the book-level reads of these books (or of all books).

    The reads are exactly what the views serve (books.reads builders, the same keys):
    the book, its chapter list, each chapter and its unfiltered descriptions. Answers
    still valid are left alone. progress(done, total) is called before the first book
    and after each one. CacheUnavailable while Redis is unreachable.
    """
    from books.models import Book

    if all_books and book_ids:
        raise ValueError("Warm either chosen books or all books, not both.")
    if not all_books and not book_ids:
        raise ValueError("Name the books to warm, or warm all books.")
    response_cache.run(lambda client: client.ping())  # fail fast, before any SQL

    books = Book.objects.order_by("pk")
    wanted = None
    if not all_books:
        wanted = {int(book_id) for book_id in book_ids}
        books = books.filter(pk__in=wanted)
    book_pks = list(books.values_list("pk", flat=True))
    result = WarmResult(missing=sorted(wanted - set(book_pks)) if wanted is not None else [])
    total = len(book_pks)
    if progress:
        progress(0, total)
    for done, book_id in enumerate(book_pks, start=1):
        written = _warm_book(book_id)
        if written is None:
            result.missing.append(book_id)  # deleted while we were warming
        else:
            result.books += 1
            result.keys += written
        if progress:
            progress(done, total)
    result.missing.sort()
    return result


def _warm_book(book_id):
    """How many answers were written for the book; None when it no longer exists."""
    from books import reads
    from books.models import Chapter

    try:
        written = _warm_one(keys.BOOK, {"book_id": book_id}, reads.book)
    except NotFound:
        return None
    plan = [(keys.CHAPTER_LIST, {"book_id": book_id}, reads.chapter_list)]
    numbers = Chapter.objects.filter(book_id=book_id).order_by("number").values_list("number", flat=True)
    plan += [(keys.CHAPTER, {"book_id": book_id, "number": number}, reads.chapter) for number in numbers]
    unfiltered = {"book_id": book_id, "kind": "any", "chapter": "any"}
    plan.append((keys.DESCRIPTIONS, unfiltered, reads.descriptions))
    for read, params, builder in plan:
        try:
            written += _warm_one(read, params, builder)
        except NotFound:
            continue
    return written


def _warm_one(read, params, builder):
    return int(bool(response_cache.warm(read, params, compute(builder, params))))


def format_seconds(seconds):
    """'3 d 4 h', '5 h 12 min', '42 s': a readable uptime."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def namespace_rows(stats_dict):
    """[(namespace, keys, hits, misses, hit rate %)] for tables; None where unknown."""
    rows = []
    for namespace, numbers in stats_dict["namespaces"].items():
        hits, misses = numbers["hits"], numbers["misses"]
        rate = _rate(hits, misses) if hits is not None and misses is not None else None
        rows.append((namespace, numbers["keys"], hits, misses, rate))
    return rows
