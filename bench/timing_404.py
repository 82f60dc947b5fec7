"""Does a 404 tell an existing private book from a missing one? `.venv/bin/python bench/timing_404.py`

In process, through the whole middleware stack (Django's test client), against PostgreSQL
(BENCH_DATABASE_URL, as bench/run.py) and a redis-server of its own. For each read, a
stranger asks, interleaved, for another user's private book and for an id that does not
exist: each the same id again and again (cached after the first ask), and a new id each time
(the first ask, nothing cached). It prints the median and 90th percentile, in microseconds.
"""

import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from redis_server import RedisServer  # noqa: E402  (tests/redis_server.py)
from run import ensure_database, setup_django  # noqa: E402

ROUNDS = int(os.environ.get("TIMING_ROUNDS", "400"))

READS = {
    "book": "/api/v1/books/{id}/",
    "chapter list": "/api/v1/books/{id}/chapters/",
    "chapter": "/api/v1/books/{id}/chapters/1/",
    "progress": "/api/v1/books/{id}/progress/",
    "descriptions": "/api/v1/books/{id}/descriptions/",
    "cover": "/api/v1/books/{id}/cover/",
}


def setup_data():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from books import services
    from books.models import Book

    call_command("migrate", verbosity=0)
    users = get_user_model().objects
    owner, _ = users.get_or_create(username="timing-owner")
    stranger, _ = users.get_or_create(username="timing-stranger")
    Book.objects.filter(owner=owner).delete()
    chapters = [services.ChapterInput(f"Chapter {n}", "<p>" + "word " * 2000 + "</p>") for n in range(1, 11)]
    private = services.create_book(owner, title="Private", chapters=chapters, visibility="private")
    fresh = [
        services.create_book(owner, title=f"Private {n}", chapters=chapters[:2], visibility="private").pk
        for n in range(ROUNDS * len(READS) * 2)
    ]
    Token.objects.get_or_create(user=owner)
    token, _ = Token.objects.get_or_create(user=stranger)
    missing = (Book.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1_000_000
    return private, fresh, missing, owner, token.key


def measure(client, path, timings):
    started = time.perf_counter()
    response = client.get(path)
    timings.append((time.perf_counter() - started) * 1e6)
    assert response.status_code == 404, (path, response.status_code)


def summary(values):
    values = sorted(values)
    return statistics.median(values), values[int(len(values) * 0.9)]


def main():
    from django.core.cache import cache
    from django.test import Client

    private, fresh, missing, owner, stranger_token = setup_data()
    fresh = iter(fresh)
    unused = iter(range(missing + 1, missing + 1 + len(READS) * ROUNDS * 2))
    owner_client = Client(HTTP_AUTHORIZATION=f"Bearer {owner.auth_token.key}", HTTP_ACCEPT="application/json")
    stranger = Client(HTTP_AUTHORIZATION=f"Bearer {stranger_token}", HTTP_ACCEPT="application/json")
    rows = []
    for owner_read_it in (False, True):
        cache.delete_pattern("*")
        if owner_read_it:  # the owner's own reads put the private book's answers in Redis
            for template in READS.values():
                owner_client.get(template.format(id=private.pk))
        for name, template in READS.items():
            timings = {"private, same id": [], "missing, same id": [], "private, new ids": [], "missing, new ids": []}
            for _ in range(20):  # warm-up: connections, caches, the token's entry
                stranger.get(template.format(id=private.pk))
                stranger.get(template.format(id=missing))
            for _ in range(ROUNDS):
                order = list(timings)
                random.shuffle(order)
                for kind in order:
                    if kind == "private, same id":
                        book_id = private.pk
                    elif kind == "missing, same id":
                        book_id = missing
                    elif kind == "private, new ids":
                        book_id = next(fresh)
                        if owner_read_it:
                            owner_client.get(template.format(id=book_id))
                    else:
                        book_id = next(unused)
                    measure(stranger, template.format(id=book_id), timings[kind])
            rows.append((owner_read_it, name, {kind: summary(values) for kind, values in timings.items()}))

    print(f"{ROUNDS} rounds per cell, interleaved; median / p90 in µs\n")
    print("| owner read it | read | private, same id | missing, same id | private, new ids | missing, new ids |")
    print("| --- | --- | --- | --- | --- | --- |")
    for owner_read_it, name, cells in rows:
        shown = " | ".join(f"{median:.0f} / {p90:.0f}" for median, p90 in cells.values())
        print(f"| {'yes' if owner_read_it else 'no'} | {name} | {shown} |")


if __name__ == "__main__":
    server = RedisServer(Path("/tmp"), persist=False)
    server.start()
    try:
        ensure_database()
        setup_django(server.url)
        main()
    finally:
        server.stop()
