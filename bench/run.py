"""Benchmark of the cached reads: `make bench` (or `.venv/bin/python bench/run.py`).

Starts a redis-server of its own on a free port and gunicorn against PostgreSQL
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/reader_bench), loads
each warm read over HTTP with a small multi-process client, then again with the
cache off (and with compression on), next to /healthz as the floor. It also counts
SQL queries per warm hit and times one book's invalidation with 0 and 1,000,000
unrelated keys in Redis. Prints a Markdown report and writes it to bench/results/.
"""

import argparse
import contextlib
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from redis_server import RedisServer, free_port  # noqa: E402  (tests/redis_server.py)

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reader_bench")


# --- load generator ------------------------------------------------------------------


def _worker(port, request, seconds, threads, queue):
    import threading

    latencies = []
    errors = [0]
    deadline = time.monotonic() + seconds

    def loop():
        mine = []
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                with socket.create_connection(("127.0.0.1", port)) as sock:
                    sock.sendall(request)
                    head = b""
                    while chunk := sock.recv(65536):
                        head = head or chunk[:12]
                if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
                    errors[0] += 1
                    continue
            except OSError:
                errors[0] += 1
                continue
            mine.append(time.perf_counter() - started)
        latencies.extend(mine)

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    queue.put((latencies, errors[0]))


def load(port, path, token, seconds, processes, threads):
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Accept: application/json\r\nConnection: close\r\n\r\n"
    ).encode()
    queue = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_worker, args=(port, request, seconds, threads, queue)) for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    latencies = sorted(lat for part, _ in results for lat in part)
    errors = sum(err for _, err in results)
    if not latencies:
        return {"rps": 0.0, "p50": float("nan"), "p99": float("nan"), "errors": errors}
    return {
        "rps": len(latencies) / seconds,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
    }


def _median_run(runs):
    return sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]


# --- the service under test ------------------------------------------------------------

# The bench's own key (the settings refuse to start without one), and no read or write rate:
# a few users send thousands of requests a second, which the throttles exist to refuse.
# Throttle counting itself stays on (THROTTLE_*_RATE=off would skip its Redis round trip), so
# the numbers include it: the rates are only too high to be reached.
BENCH_SETTINGS = {
    "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-not-a-secret",
    "THROTTLE_READ_RATE": "100000000/min",
    "THROTTLE_WRITE_RATE": "100000000/min",
    "THROTTLE_UPLOAD_RATE": "100000000/min",
}


class Service:
    def __init__(self, redis_url, workers, **env):
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": redis_url,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_MAX_REQUESTS": "0",  # no worker restarts in the middle of a row
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **BENCH_SETTINGS,
            **env,
        }
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "config.wsgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(30)


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(redis, token, paths, count=2000):
    """CPU time (server worker, Redis, client) per request, one request at a time.

    Unlike throughput on a shared 2-core machine, this barely moves between runs.
    """
    costs = {}
    with Service(redis.url, 1) as service:
        workers = [
            int(pid)
            for pid in Path(f"/proc/{service.process.pid}/task/{service.process.pid}/children").read_text().split()
        ]
        for name, path in paths.items():
            request = (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                "Accept: application/json\r\nConnection: close\r\n\r\n"
            ).encode()

            def one(request=request):
                with socket.create_connection(("127.0.0.1", service.port)) as sock:
                    sock.sendall(request)
                    while sock.recv(65536):
                        pass

            for _ in range(200):
                one()
            worker, server, client = (
                sum(map(_cpu_seconds, workers)),
                _cpu_seconds(redis.process.pid),
                time.process_time(),
            )
            for _ in range(count):
                one()
            costs[name] = tuple(
                (after - before) / count * 1e6
                for before, after in (
                    (worker, sum(map(_cpu_seconds, workers))),
                    (server, _cpu_seconds(redis.process.pid)),
                    (client, time.process_time()),
                )
            )
    return costs


# --- in-process measurements -------------------------------------------------------------


def setup_django(redis_url):
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ["REDIS_URL"] = redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("REDIS_CACHE_RELAY_SECONDS", "0")
    for name, value in BENCH_SETTINGS.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()


def ensure_database():
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


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
    from cacheadmin import keys
    from cacheadmin.cache import response_cache

    client = redis.client()
    if unrelated:
        pipe = client.pipeline(transaction=False)
        for i in range(unrelated):
            pipe.set(f"unrelated:{i}", "x")
            if i % 20000 == 19999:
                pipe.execute()
        pipe.execute()
    dbsize = client.dbsize()
    gens = keys.for_book(book.pk, [book.owner_id], True, True)
    timings = []
    for _ in range(500):
        started = time.perf_counter()
        response_cache.invalidate(gens)
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
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="client threads per process")
    parser.add_argument("--chapter-words", type=int, default=3000)
    parser.add_argument("--unrelated-keys", type=int, default=1_000_000)
    args = parser.parse_args()

    redis = RedisServer(Path(os.environ.get("TMPDIR", "/tmp")), persist=False)
    redis.start()
    try:
        report = run(args, redis)
    finally:
        redis.stop()
    print(report)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(report)


def run(args, redis):
    ensure_database()
    setup_django(redis.url)
    user, token, book = make_data(args.chapter_words)
    paths = {"healthz (floor)": "/healthz", **read_paths(book)}
    configs = {
        "cache on": {},
        "cache off": {"REDIS_CACHE_ENABLED": "false"},
        "cache on, zlib": {"REDIS_CACHE_COMPRESS": "true"},
    }
    # All three services run side by side and the rows interleave, round after round,
    # so a slow moment of the machine does not land on one configuration only.
    samples = {}
    with contextlib.ExitStack() as stack:
        services = {name: stack.enter_context(Service(redis.url, args.workers, **env)) for name, env in configs.items()}
        for service in services.values():
            for path in paths.values():
                load(service.port, path, token, 0.5, 1, 2)  # warm the cache and every worker
        for round_number in range(args.rounds):
            for name, path in paths.items():
                for config, service in services.items():
                    result = load(service.port, path, token, args.seconds, args.processes, args.threads)
                    samples.setdefault((config, name), []).append(result)
                    print(round_number, config, name, f"{result['rps']:.0f} req/s", file=sys.stderr)
    loads = {key: _median_run(runs) for key, runs in samples.items()}

    floor = loads[("cache on", "healthz (floor)")]["rps"]
    lines = [
        "# reader benchmark",
        "",
        f"{os.cpu_count()} cores; gunicorn {args.workers} sync workers; client {args.processes} processes x "
        f"{args.threads} threads, new connection per request; median of {args.rounds} interleaved runs of "
        f"{args.seconds:.0f} s per cell; chapters of "
        f"{args.chapter_words} words. PostgreSQL and a redis-server of the bench's own on loopback.",
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
    cpu = cpu_per_request(redis, token, paths)
    floor_cpu = sum(cpu["healthz (floor)"])
    lines += [
        "",
        "## CPU per request (cache on, one request at a time, one worker)",
        "",
        "| read | worker µs | Redis µs | client µs | total µs | floor / total |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, (worker, server, client) in cpu.items():
        total = worker + server + client
        lines.append(f"| {name} | {worker:.0f} | {server:.0f} | {client:.0f} | {total:.0f} | {floor_cpu / total:.2f} |")
    errors = sum(result["errors"] for result in loads.values())
    lines += ["", f"Failed requests in all rows: {errors}.", "", "## SQL queries per warm hit", ""]
    for name, (count, outcome) in queries_per_hit(token, book).items():
        lines.append(f"- {name}: {count} ({outcome})")
    lines += ["", "## Invalidating one book (SETs of its generations, one pipeline)", ""]
    for unrelated in (0, args.unrelated_keys):
        dbsize, p50, p99 = invalidation_ms(book, redis, unrelated)
        lines.append(f"- {dbsize:,} keys in Redis: p50 {p50:.3f} ms, p99 {p99:.3f} ms (500 runs)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
