"""Helpers of the cache administration tests: the real Redis, seen from outside the app."""

import uuid

from django_redis import get_redis_connection

from cacheadmin.cache import STATS_KEY, response_cache
from cacheadmin.registry import registry
from tests.factories import DescriptionFactory, make_book

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def raw_redis():
    return get_redis_connection("default")


def head():
    return response_cache.name("")


def stored_under_prefix():
    """Every logical key this test run holds in Redis (our prefix only)."""
    names = raw_redis().scan_iter(match=head().replace("[", "\\[") + "*", count=1000)
    return {name.decode()[len(head()) :] for name in names}


def response_keys():
    return {key for key in stored_under_prefix() if registry.is_response_key(key)}


def other_keys():
    """Our keys that are not responses: generations, statistics, the token cache."""
    return stored_under_prefix() - response_keys()


def plant_foreign_keys():
    """Keys of 'other programs' in the same database, some named like our responses."""
    tag = uuid.uuid4().hex[:12]
    names = [
        f"otherapp:{tag}:foreign",
        f"book:{uuid.uuid4().int % 10**9}:metadata",  # a response's name, without our prefix
        f"otherprefix-{tag}:1:book:1:metadata",  # someone else's prefix
    ]
    client = raw_redis()
    for name in names:
        client.set(name, "x")
    return names


def remove_keys(names):
    if names:
        raw_redis().delete(*names)


def all_exist(names):
    return raw_redis().exists(*names) == len(names)


def point_cache_at_dead_redis(settings):
    """The default cache talks to a port nothing listens on (Django resets its handlers)."""
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS}}
    response_cache.breaker.succeeded()


def stats_hash_exists():
    return bool(raw_redis().exists(response_cache.name(STATS_KEY)))


def book_with_content(owner, chapters=3, **fields):
    book = make_book(owner, chapters=chapters, **fields)
    DescriptionFactory(book=book, chapter=book.chapters.get(number=1))
    return book


def book_read_urls(book):
    base = f"/api/v1/books/{book.pk}"
    chapters = [f"{base}/chapters/{n}/" for n in range(1, book.chapter_count + 1)]
    return [f"{base}/", f"{base}/chapters/", *chapters, f"{base}/descriptions/", f"{base}/toc/"]


def book_response_keys(book):
    return {
        f"book:{book.pk}:metadata",
        f"book:{book.pk}:chapters:list",
        *(f"book:{book.pk}:chapter:{n}" for n in range(1, book.chapter_count + 1)),
        f"book:{book.pk}:descriptions:any:any",
        f"book:{book.pk}:toc",
    }
