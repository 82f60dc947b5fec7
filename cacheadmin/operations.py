"""Staff administration of the response cache: statistics, clearing and warming.

The DRF endpoints (cacheadmin.views), the Django admin panel (cacheadmin.admin, and
the Book actions in cacheadmin.actions) and the management commands (cache_stats,
cache_clear, cache_warm) all call these functions and nothing else.

Only keys of the response cache are ever counted or deleted: keys under this app's
prefix and version whose logical name is the key of a declared read
(cacheadmin.registry). Which keys belong to a book, and what warming a book computes,
come from the same declarations. Generations
(``gen:*``), the statistics, the token cache (``auth:*``), leases, sessions and keys of
other programs in the same Redis database are never touched. Every Redis call goes
through response_cache.run, so a dead Redis raises CacheUnavailable after one timeout
at most (the circuit breaker), never a RedisError.
"""

from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings

from cacheadmin.cache import STATS_KEY, CacheUnavailable, response_cache
from cacheadmin.registry import is_valid_pattern, registry
from cacheadmin.responses import compute

SCAN_COUNT = 1000
DELETE_BATCH = 500
MAX_PATTERN_LENGTH = 200
PATTERN_HELP = (
    "A pattern is 1 to 200 characters of letters, digits, ':', '_', '-' and '*' (the wildcard), such as 'book:7:*'."
)


class InvalidPattern(ValueError):
    """A clear pattern that registry.is_valid_pattern refuses."""

    def __init__(self, pattern):
        super().__init__(pattern_problem(pattern) or PATTERN_HELP)
        self.pattern = pattern


def pattern_problem(pattern):
    """What is wrong with a clear pattern, in words ('' when nothing is)."""
    if not isinstance(pattern, str) or not pattern:
        return "Enter a pattern, such as 'book:7:*'."
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"The pattern has {len(pattern):,} characters; at most {MAX_PATTERN_LENGTH} are allowed."
    bad = sorted({char for char in pattern if not (char.isascii() and (char.isalnum() or char in ":_-*"))})
    if bad:
        shown = ", ".join(f"'{char}'" for char in bad)
        return f"The pattern may not contain {shown}: only letters, digits, ':', '_', '-' and '*' are allowed."
    return ""


def unavailable_message():
    if not settings.REDIS_CACHE_ENABLED:
        return "The response cache is turned off (REDIS_CACHE_ENABLED is false)."
    return "Redis is unreachable, so the response cache is not available. Try again shortly."


def ttl_seconds():
    return {"static": settings.REDIS_CACHE_DEFAULT_TTL, "dynamic": settings.REDIS_CACHE_DYNAMIC_TTL}


def validate_pattern(pattern):
    if not is_valid_pattern(pattern):
        raise InvalidPattern(pattern)
    return pattern


# --- scanning the response cache --------------------------------------------------


def response_keys(client, pattern):
    """(stored name, logical key) of every response-cache key matching a logical pattern."""
    backend = response_cache.backend()
    match = backend.client.make_pattern(pattern)  # django-redis adds (and escapes) prefix and version
    for name in client.scan_iter(match=match, count=SCAN_COUNT):
        logical = backend.client.reverse_key(name.decode("utf-8", "replace") if isinstance(name, bytes) else name)
        if registry.is_response_key(logical):
            yield name, logical


def _delete_matching(patterns, wanted=None):
    """Delete the response keys matching any of patterns (and wanted(logical)); how many."""

    def delete(client):
        deleted = 0
        for pattern in patterns:
            batch = []
            for name, logical in response_keys(client, pattern):
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


def _empty(names):
    return {name: {"keys": None, "hits": None, "misses": None} for name in names}


def stats():
    """This app's cache statistics; {"available": False, …} while Redis is unreachable.

    hits/misses are the reads the app counted (cacheadmin.cache.StatsCounter), per read
    and summed per namespace, not the server's keyspace_hits; keys count response-cache
    keys under our prefix only. memory_used_mb, evictions, redis_version and
    uptime_seconds are the server's.
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
            "namespaces": _empty(registry.namespaces),
            "reads": _empty(read.name for read in registry.response_reads()),
            "memory_used_mb": None,
            "evictions": None,
            "redis_version": None,
            "uptime_seconds": None,
            "ttl_seconds": ttl_seconds(),
        }


def _read_stats(client):
    counted_keys = Counter()
    for _, logical in response_keys(client, "*"):
        counted_keys[registry.read_of_key(logical).name] += 1
    counters = {}
    for name, value in client.hgetall(response_cache.name(STATS_KEY)).items():
        name = name.decode() if isinstance(name, bytes) else name
        try:
            counters[name] = int(value)
        except (TypeError, ValueError):
            continue
    info = client.info()
    reads, namespaces = {}, {ns: {"keys": 0, "hits": 0, "misses": 0} for ns in registry.namespaces}
    for read in registry.response_reads():
        numbers = {
            "keys": counted_keys.get(read.name, 0),
            "hits": counters.get(f"{read.name}:hits", 0),
            "misses": counters.get(f"{read.name}:misses", 0),
        }
        reads[read.name] = numbers
        for name, value in numbers.items():
            namespaces[read.namespace][name] += value
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
        "reads": reads,
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

    InvalidPattern for a pattern registry.is_valid_pattern refuses; keys outside the
    response cache are never reached, whatever the pattern.
    """
    validate_pattern(pattern)
    return {"pattern": pattern, "deleted": _delete_matching([pattern])}


def preview_pattern(pattern, sample_size=10):
    """(how many response-cache keys match pattern, the first few of them, sorted)."""
    validate_pattern(pattern)

    def count(client):
        total, sample = 0, []
        for _, logical in response_keys(client, pattern):
            total += 1
            if len(sample) < sample_size:
                sample.append(logical)
        return total, sorted(sample)

    return response_cache.run(count)


def count_pattern(pattern):
    return preview_pattern(pattern, sample_size=0)[0]


BOOK_SCOPE = "book_id"  # the scope (cacheadmin.registry) that clearing and warming books use


def clear_books(book_ids):
    """Delete the cached answers of these books: every read declared with the book scope."""
    patterns = [pattern for book_id in book_ids for pattern in registry.scoped_patterns(BOOK_SCOPE, int(book_id))]
    return _delete_matching(patterns) if patterns else 0


# --- warming ----------------------------------------------------------------------


@dataclass
class WarmResult:
    books: int = 0  # books whose reads were computed (or found still valid)
    keys: int = 0  # answers written to Redis
    already: int = 0  # answers that were cached and still valid
    missing: list = field(default_factory=list)  # asked-for ids that do not exist

    def as_dict(self):
        return {"books": self.books, "keys": self.keys, "already_cached": self.already}

    def summary(self):
        return f"Warmed {self.books} book(s): {self.keys} answer(s) computed and cached, {self.already} already cached."

    def missing_summary(self):
        return "No such book(s): " + ", ".join(map(str, self.missing)) + "." if self.missing else ""


class InvalidWarmTarget(ValueError):
    """Books and all books at once, or neither."""


def check_warm_target(book_ids, all_books, books="the books", everything="all books"):
    """The one rule of what to warm: some books or all of them, not both, not neither.

    `books` and `everything` name the two choices as the caller's interface does
    ('"books"' and '"all": true' in JSON, '--book' and '--all' on the command line).
    """
    if all_books and book_ids:
        raise InvalidWarmTarget(f"Give {books} or {everything}, not both.")
    if not all_books and not book_ids:
        raise InvalidWarmTarget(f"Give {books} or {everything}.")


def warm(book_ids=None, all_books=False, progress=None):
    """Compute and store the reads declared for warming a book, for these books or all.

    The plan of each book comes from the declarations (registry.warm_plan): the same
    builders and keys the views serve. Answers still valid are left alone. Each book
    costs one MGET, one pipeline of generations and one of answers, whatever its size.
    progress(done, total) is called before the first book and after each one.
    CacheUnavailable while Redis is unreachable.
    """
    check_warm_target(book_ids, all_books)
    response_cache.run(lambda client: client.ping())  # fail fast, before any SQL

    wanted = None if all_books else sorted({int(book_id) for book_id in book_ids})
    found = list(registry.units(BOOK_SCOPE, wanted))
    result = WarmResult(missing=sorted(set(wanted) - set(found)) if wanted is not None else [])
    total = len(found)
    if progress:
        progress(0, total)
    for done, book_id in enumerate(found, start=1):
        plan = [(read, params, compute(read, params)) for read, params in registry.warm_plan(BOOK_SCOPE, book_id)]
        written, valid = response_cache.warm(plan)
        result.books += 1
        result.keys += written
        result.already += valid
        if progress:
            progress(done, total)
    return result


def namespace_rows(stats_dict):
    """[(namespace, keys, hits, misses, hit rate %)] for tables; None where unknown."""
    rows = []
    for namespace, numbers in stats_dict["namespaces"].items():
        hits, misses = numbers["hits"], numbers["misses"]
        rate = _rate(hits, misses) if hits is not None and misses is not None else None
        rows.append((namespace, numbers["keys"], hits, misses, rate))
    return rows
