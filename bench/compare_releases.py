"""Warm hits of an older checkout against this one, side by side through wrk (A/B).

    git worktree add /tmp/oldtree <commit> && ln -s $PWD/.venv /tmp/oldtree/.venv
    OLD_TREE=/tmp/oldtree .venv/bin/python bench/compare_releases.py
    WORKERS=1 CONNECTIONS=1 OLD_TREE=/tmp/oldtree .venv/bin/python bench/compare_releases.py

Three services on one redis-server of the bench's own and PostgreSQL (reader_bench): the old
checkout, this one, and this one with the read throttle off (its Redis round trip isolated);
WORKERS gunicorn workers each (default 5), wrk with CONNECTIONS connections (default 8). One
worker and one connection measure the CPU of a request alone, with a core to spare for wrk.
Rounds interleave the services; the median of ROUNDS runs of SECS seconds is reported: requests
per second, and the CPU each request cost the service's gunicorn processes and the Redis server
(from /proc, over the same run). The in-process part (data, migrations) runs this checkout's code;
the old service only reads.
"""

import contextlib
import importlib.util
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLD = Path(os.environ.get("OLD_TREE", "/tmp/oldtree"))
DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reader_bench")


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def old_service_class():
    """The old checkout's bench Service; its import puts the old tree first on sys.path: undone."""
    saved = list(sys.path)
    service = load_module("bench_old", OLD / "bench/run.py").Service
    sys.path[:] = saved
    for name in [m for m in sys.modules if m.split(".")[0] in ("books", "reader", "cacheadmin", "config")]:
        del sys.modules[name]
    return service


WORKERS = int(os.environ.get("WORKERS", "5"))  # gunicorn workers per service
CONNECTIONS = int(os.environ.get("CONNECTIONS", "8"))  # wrk's


def wrk(port, path, token, seconds):
    """(requests per second, requests) of one wrk run."""
    command = ["wrk", f"-t{min(2, CONNECTIONS)}", f"-c{CONNECTIONS}", f"-d{seconds}s"]
    command += ["-H", f"Authorization: Bearer {token}"]
    command += ["-H", "Accept: application/json", f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), int(
        re.search(r"(\d+) requests in", out).group(1)
    )


def measured(service, redis, path, token, seconds):
    """(requests per second, µs of the service's CPU per request, µs of Redis's CPU per request)."""
    before = service_cpu(service), common.cpu_seconds(redis.process.pid)
    rate, requests = wrk(service.port, path, token, seconds)
    after = service_cpu(service), common.cpu_seconds(redis.process.pid)
    return rate, (after[0] - before[0]) / requests * 1e6, (after[1] - before[1]) / requests * 1e6


def service_cpu(service):
    """CPU seconds of a gunicorn master and its workers (the old bench's Service too)."""
    pid = service.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sum(common.cpu_seconds(int(p)) for p in [pid, *children])


def main():
    global common
    sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]
    old_service = old_service_class()
    import common
    from redis_server import RedisServer

    run = load_module("bench_run", ROOT / "bench/run.py")
    rounds, seconds = int(os.environ.get("ROUNDS", "3")), os.environ.get("SECS", "3")
    redis = RedisServer(Path("/tmp"), persist=False)
    redis.start()
    try:
        common.ensure_database(DATABASE)
        common.setup_django(DATABASE, redis.url)
        _, token, book = run.make_data(3000)
        paths = {"healthz": "/healthz", **run.read_paths(book)}
        with contextlib.ExitStack() as stack:
            services = {
                "old": stack.enter_context(
                    old_service(
                        redis.url,
                        WORKERS,
                        REDIS_KEY_PREFIX="old",
                        DATABASE_URL=DATABASE,
                        REDIS_CACHE_RELAY_SECONDS="0.25",
                    )
                ),
                "new": stack.enter_context(common.Service(DATABASE, redis.url, WORKERS, REDIS_KEY_PREFIX="new")),
                "new, no read throttle": stack.enter_context(
                    common.Service(DATABASE, redis.url, WORKERS, REDIS_KEY_PREFIX="new2", THROTTLE_READ_RATE="off")
                ),
            }
            for service in services.values():
                for path in paths.values():
                    for _ in range(3):
                        common.http_get(service.port, path, token)
            results = {}
            for _ in range(rounds):
                for name, path in paths.items():
                    for which, service in services.items():
                        results.setdefault((name, which), []).append(measured(service, redis, path, token, seconds))
        print(f"load average {os.getloadavg()}")
        print("requests per second (wrk), and CPU per request: gunicorn processes + Redis (µs)")
        print("| read | old req/s | new req/s | new/old | new, no read throttle | /old | CPU old | new | no throttle |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name in paths:
            (old, old_cpu), (new, new_cpu), (bare, bare_cpu) = (median_of(results[(name, w)]) for w in services)
            print(
                f"| {name} | {old:.0f} | {new:.0f} | {new / old:.2f} | {bare:.0f} | {bare / old:.2f} "
                f"| {old_cpu:.0f} | {new_cpu:.0f} | {bare_cpu:.0f} |"
            )
    finally:
        redis.stop()


def median_of(runs):
    """(median requests per second, median CPU µs per request, worker and Redis together)."""
    return statistics.median(r[0] for r in runs), statistics.median(r[1] + r[2] for r in runs)


if __name__ == "__main__":
    main()
