"""Instructions per warm hit of an older checkout and of this one, in a real gunicorn worker (A/B).

    git worktree add /tmp/oldtree <commit> && ln -s $PWD/.venv /tmp/oldtree/.venv
    OLD_TREE=/tmp/oldtree .venv/bin/python bench/hit_instructions.py

Requests per second on a shared 2-core machine move with everything else it runs;
instructions do not. Each checkout is served by gunicorn with one sync worker (its own
gunicorn.conf.py, so Prometheus' multiprocess files and the relay thread are there as in
production) under `valgrind --tool=callgrind` (Debian's valgrind package). Each read is asked
30 times to warm it, then N times (default 300) on one keep-alive connection while callgrind
counts; only the worker's request thread is counted (the relay thread and Redis are not).
Both checkouts read the same data, in PostgreSQL (reader_bench) and a redis-server of the
bench's own; this checkout is also counted with the read throttle off, which the older one did
not have.

An earlier version served requests through Django's WSGI handler in the bench's own process.
There the old checkout's common path (/healthz) cost 205,000 instructions more than this one's,
against 41,000 in a gunicorn worker, which hid most of a regression (README, "Warm hits before
and after the engine refactor").
"""

import http.client
import os
import re
import runpy
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLD = Path(os.environ.get("OLD_TREE", "/tmp/oldtree"))
DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reader_bench")
REQUESTS = int(os.environ.get("N", "300"))
WARM = 30
ATTEMPTS = 3


def counted(tree, paths, token, redis_url, prefix, **env):
    """{read: instructions per request} of one gunicorn worker of `tree`, under callgrind."""
    import common

    out = Path("/tmp") / f"hit-instructions-{os.getpid()}-{prefix}"
    service = common.Service(
        DATABASE, redis_url, 1, REDIS_KEY_PREFIX=prefix, GUNICORN_TIMEOUT="600", PYTHONHASHSEED="0", **env
    )
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--trace-children=yes"]
    command += ["--separate-threads=yes", f"--callgrind-out-file={out}.%p", str(common.VENV_BIN / "python")]
    command += [str(common.VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "config.wsgi:application"]
    server = subprocess.Popen(command, cwd=tree, env=service.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        worker = ready_worker(server, service.port)
        connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=120)
        results = {}
        for name, path in paths.items():
            for _ in range(ATTEMPTS):
                for _ in range(WARM):
                    ask(connection, path, token)
                control(worker, "-z")
                control(worker, "-i", "on")
                statuses = {ask(connection, path, token) for _ in range(REQUESTS)}
                control(worker, "-i", "off")
                control(worker, "-d", name.replace(" ", "_"))
                if not statuses - {(200, "HIT"), (200, None)}:
                    break
                # A miss costs hundreds of hits: an answer retired meanwhile (slowed down 50
                # times, a run outlives short TTLs) is measured again.
            else:
                sys.exit(f"{tree} {path}: {sorted(statuses, key=str)}")
            results[name] = request_thread_total(out, worker) / REQUESTS
        return results
    finally:
        server.terminate()
        server.wait(120)
        for file in out.parent.glob(f"{out.name}.*"):
            file.unlink()


def ready_worker(server, port):
    import common

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if common.http_get(port, "/healthz", timeout=30)[0].endswith(" 200 OK"):
                return int(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()[0])
        except OSError:
            time.sleep(1)
    raise RuntimeError("gunicorn did not start under valgrind")


def ask(connection, path, token):
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status, response.getheader("X-Cache")


def control(pid, *args):
    subprocess.run(["callgrind_control", *args, str(pid)], capture_output=True, check=True)


def request_thread_total(out, worker):
    """Instructions of the worker's first thread (the one serving requests) in its last dump."""
    dumps = sorted(out.parent.glob(f"{out.name}.{worker}.*-01"), key=lambda p: int(p.name.rsplit(".", 1)[1][:-3]))
    total = re.search(r"^totals: (\d+)", dumps[-1].read_text(), re.MULTILINE)
    return int(total.group(1))


def main():
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    import common

    run = runpy.run_path(str(ROOT / "bench/run.py"))
    redis = common.RedisServer(Path("/tmp"), persist=False)
    redis.start()
    try:
        common.ensure_database(DATABASE)
        common.setup_django(DATABASE, redis.url)
        _, token, book = run["make_data"](3000)
        paths = {"healthz": "/healthz", **run["read_paths"](book)}
        old = counted(OLD, paths, token, redis.url, "old", REDIS_CACHE_RELAY_SECONDS="0.25")
        new = counted(ROOT, paths, token, redis.url, "new")
        bare = counted(ROOT, paths, token, redis.url, "new2", THROTTLE_READ_RATE="off")
        print(f"instructions per request of a gunicorn worker, {REQUESTS} warm requests each (callgrind)")
        print("| read | old | new | new/old | new, no read throttle | /old |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name in paths:
            print(
                f"| {name} | {old[name]:,.0f} | {new[name]:,.0f} | {new[name] / old[name]:.2f} "
                f"| {bare[name]:,.0f} | {bare[name] / old[name]:.2f} |"
            )
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
