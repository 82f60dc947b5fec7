"""Benchmark of the cached reads: `make bench` (or `.venv/bin/python bench/run.py`).

Starts a redis-server of its own on a free port and gunicorn against PostgreSQL
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/reader_bench), loads
each warm read over HTTP with a standard load tool (wrk when installed, else Locust's
FastHttpUser, headless; see bench/drivers.py), then again with the cache off (and with
compression on), next to /healthz as the floor. It also counts SQL queries per warm hit
and times one book's invalidation with 0 and 1,000,000 unrelated keys in Redis. Prints a
Markdown report and writes it to bench/results/.
"""

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

from common import ROOT, RedisServer, Service, cpu_seconds, ensure_database, load_average, setup_django
from drivers import TOOLS, load, pick_tool

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reader_bench")


def _median_run(runs):
    return sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]


def cpu_per_request(tool, redis, token, paths, seconds):
    """CPU time (server worker, Redis, load tool) per request, one request at a time, one worker.

    Unlike throughput on a shared 2-core machine, this barely moves between runs.
    """
    costs = {}
    with Service(DATABASE_URL, redis.url, 1) as service:
        for name, path in paths.items():
            load(tool, service.url, path, token, 1, 1, 1)  # warm the cache and the worker
            worker, server = service.cpu_seconds(), cpu_seconds(redis.process.pid)
            result = load(tool, service.url, path, token, seconds, 1, 1)
            count = max(result["requests"], 1)
            costs[name] = (
                (service.cpu_seconds() - worker) / count * 1e6,
                (cpu_seconds(redis.process.pid) - server) / count * 1e6,
                result["client_cpu"] / count * 1e6,
            )
    return costs


# --- in-process measurements -------------------------------------------------------------


def make_data(chapter_words):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from books import services
    from books.models import Book, Description

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    token, _ = Token.objects.get_or_create(user=user)
    Book.objects.filter(owner=user).delete()
    paragraph = "<p>" + " ".join(f"word{i % 97}" for i in range(100)) + "</p>"
    chapters = [services.ChapterInput(f"Chapter {n}", paragraph * (chapter_words // 100)) for n in range(1, 21)]
    for n in range(30):
        book = services.create_book(user, title=f"Bench book {n}", chapters=chapters, visibility="public")
    for chapter in book.chapters.all()[:5]:
        Description.objects.create(book=book, chapter=chapter, kind="location", text="A harbour at dusk.")
    return user, token.key, book


def queries_per_hit(token, book):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT="application/json")
    counts = {}
    for name, path in read_paths(book).items():
        client.get(path)
        client.get(path)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        counts[name] = (len(queries), response["X-Cache"])
    return counts


def invalidation_ms(book, redis, unrelated):
    from books.models import Book
    from cacheadmin.cache import response_cache
    from cacheadmin.registry import registry

    client = redis.client()
    if unrelated:
        pipe = client.pipeline(transaction=False)
        for i in range(unrelated):
            pipe.set(f"unrelated:{i}", "x")
            if i % 20000 == 19999:
                pipe.execute()
        pipe.execute()
    dbsize = client.dbsize()
    row = {"pk": book.pk, "owner_id": book.owner_id, "visibility": book.visibility}
    gens = registry.generations_of(Book, [row])  # what a change to this public book retires
    timings = []
    for _ in range(500):
        started = time.perf_counter()
        response_cache.retire(gens)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return dbsize, statistics.median(timings), timings[int(len(timings) * 0.99) - 1]


def read_paths(book):
    base = f"/api/v1/books/{book.pk}"
    return {
        "book list": "/api/v1/books/",
        "book": f"{base}/",
        "chapter list": f"{base}/chapters/",
        "chapter": f"{base}/chapters/10/",
        "progress": f"{base}/progress/",
        "descriptions": f"{base}/descriptions/",
    }


# --- the run -------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load time per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn workers (2 x cores + 1)")
    parser.add_argument("--tool", choices=("auto", *TOOLS), default="auto", help="load tool (auto: wrk if installed)")
    parser.add_argument("--connections", type=int, default=8, help="requests in flight")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--cpu-seconds", type=float, default=4.0, help="load time per read of the CPU table")
    parser.add_argument("--chapter-words", type=int, default=3000)
    parser.add_argument("--unrelated-keys", type=int, default=1_000_000)
    parser.add_argument("--docs", action="store_true", help="also write docs/bench.md and docs/bench.png")
    args = parser.parse_args()
    args.tool = pick_tool(args.tool)

    redis = RedisServer(Path(os.environ.get("TMPDIR", "/tmp")), persist=False)
    redis.start()
    try:
        report, table = run(args, redis)
    finally:
        redis.stop()
    print(report)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(report)
    if args.docs:
        from plots import bench_plot

        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "bench.md").write_text(report)
        bench_plot(table, ROOT / "docs" / "bench.png")


CONFIGS = {
    "cache on": {},
    "cache off": {"REDIS_CACHE_ENABLED": "false"},
    "cache on, zlib": {"REDIS_CACHE_COMPRESS": "true"},
}


def measure(args, redis, token, paths):
    """Median of interleaved rounds per (configuration, read)."""
    # All three services run side by side and the rows interleave, round after round,
    # so a slow moment of the machine does not land on one configuration only.
    samples = {}
    with contextlib.ExitStack() as stack:
        services = {
            name: stack.enter_context(Service(DATABASE_URL, redis.url, args.workers, **env))
            for name, env in CONFIGS.items()
        }
        for service in services.values():
            for path in paths.values():
                load(args.tool, service.url, path, token, 1, 2, 1)  # warm the cache and every worker
        for round_number in range(args.rounds):
            for name, path in paths.items():
                for config, service in services.items():
                    result = load(args.tool, service.url, path, token, args.seconds, args.connections, args.threads)
                    samples.setdefault((config, name), []).append(result)
                    print(round_number, config, name, f"{result['rps']:.0f} req/s", file=sys.stderr)
    return {key: _median_run(runs) for key, runs in samples.items()}


def run(args, redis):
    ensure_database(DATABASE_URL)
    setup_django(DATABASE_URL, redis.url)
    user, token, book = make_data(args.chapter_words)
    paths = {"healthz (floor)": "/healthz", **read_paths(book)}
    load_before = load_average()
    loads = measure(args, redis, token, paths)
    load_after = load_average()

    floor = loads[("cache on", "healthz (floor)")]["rps"]
    client = (
        f"wrk, {args.threads} threads" if args.tool == "wrk" else "Locust FastHttpUser (one process, no think time)"
    )
    lines = [
        "# reader benchmark",
        "",
        f"{os.cpu_count()} cores; gunicorn {args.workers} sync workers; load tool: {client}, "
        f"{args.connections} connections, new connection per request; median of {args.rounds} interleaved runs of "
        f"{args.seconds:.0f} s per cell; chapters of "
        f"{args.chapter_words} words. PostgreSQL and a redis-server of the bench's own on loopback. "
        f"Load average (1, 5, 15 min) before: {_loadavg(load_before)}, after: {_loadavg(load_after)}.",
        "",
        "| read | cache on req/s | p50 ms | p99 ms | x floor | cache off req/s | p50 ms | p99 ms | on/off "
        "| zlib req/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in paths:
        on = loads[("cache on", name)]
        off = loads[("cache off", name)]
        zlib = loads[("cache on, zlib", name)]
        lines.append(
            f"| {name} | {on['rps']:.0f} | {on['p50']:.2f} | {on['p99']:.2f} | {on['rps'] / floor:.2f} "
            f"| {off['rps']:.0f} | {off['p50']:.2f} | {off['p99']:.2f} | {on['rps'] / max(off['rps'], 1):.1f} "
            f"| {zlib['rps']:.0f} |"
        )
    cpu = cpu_per_request(args.tool, redis, token, paths, args.cpu_seconds)
    floor_cpu = sum(cpu["healthz (floor)"])
    lines += [
        "",
        f"## CPU per request (cache on, one connection, one worker, {args.tool} as the client)",
        "",
        "| read | worker µs | Redis µs | client µs | total µs | floor / total |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, (worker, server, client_us) in cpu.items():
        total = worker + server + client_us
        lines.append(
            f"| {name} | {worker:.0f} | {server:.0f} | {client_us:.0f} | {total:.0f} | {floor_cpu / total:.2f} |"
        )
    errors = sum(result["errors"] for result in loads.values())
    lines += ["", f"Failed requests in all rows: {errors}.", "", "## SQL queries per warm hit", ""]
    for name, (count, outcome) in queries_per_hit(token, book).items():
        lines.append(f"- {name}: {count} ({outcome})")
    lines += ["", "## Retiring one public book (SETs of its generations, one pipeline)", ""]
    for unrelated in (0, args.unrelated_keys):
        dbsize, p50, p99 = invalidation_ms(book, redis, unrelated)
        lines.append(f"- {dbsize:,} keys in Redis: p50 {p50:.3f} ms, p99 {p99:.3f} ms (500 runs)")
    table = {name: {config: loads[(config, name)] for config in CONFIGS} for name in paths}
    return "\n".join(lines) + "\n", table


def _loadavg(values):
    return " / ".join(f"{value:.2f}" for value in values)


if __name__ == "__main__":
    main()
