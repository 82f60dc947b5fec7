"""Instructions per warm hit of an older checkout and of this one, counted by callgrind (A/B).

    git worktree add /tmp/oldtree <commit> && ln -s $PWD/.venv /tmp/oldtree/.venv
    OLD_TREE=/tmp/oldtree .venv/bin/python bench/hit_instructions.py

Requests per second on a shared 2-core machine move with everything else it runs;
instructions do not. Each read is served N times (default 200) through Django's WSGI
handler, in a process of its own under `valgrind --tool=callgrind` (Debian's valgrind
package), counted only while those requests run: the process's own user-space
instructions, Redis's and the kernel's excluded. Both checkouts read the same data, in
PostgreSQL (reader_bench) and a redis-server of the bench's own; this checkout is also
counted with the read throttle off, which the older one did not have.
"""

import io
import os
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLD = Path(os.environ.get("OLD_TREE", "/tmp/oldtree"))
DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reader_bench")
REQUESTS = int(os.environ.get("N", "200"))


def child(tree, path, token, redis_url, prefix):
    """Serve `path` REQUESTS times in this process, instrumented only meanwhile."""
    sys.path.insert(0, str(ROOT / "bench"))
    import common  # puts this checkout on sys.path: the tree measured goes before it

    sys.path.insert(0, tree)
    os.chdir(tree)

    env = {**common.BENCH_SETTINGS, "ALLOWED_HOSTS": "*", "REDIS_KEY_PREFIX": prefix}
    for name, value in env.items():
        os.environ.setdefault(name, value)
    common.setup_django(DATABASE, redis_url)
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.client import RequestFactory

    app = WSGIHandler()
    environ = RequestFactory()._base_environ(
        PATH_INFO=path, REQUEST_METHOD="GET", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT="application/json"
    )
    environ["SERVER_NAME"] = environ["HTTP_HOST"] = "127.0.0.1"
    statuses = []

    def call():
        response = app({**environ, "wsgi.input": io.BytesIO()}, lambda status, headers: statuses.append(status))
        b"".join(response)
        response.close()

    for _ in range(30):  # the answer computed and stored, everything imported
        call()
    pid = str(os.getpid())
    subprocess.run(["callgrind_control", "-z", pid], capture_output=True, check=True)
    subprocess.run(["callgrind_control", "-i", "on", pid], capture_output=True, check=True)
    for _ in range(REQUESTS):
        call()
    subprocess.run(["callgrind_control", "-i", "off", pid], capture_output=True, check=True)
    if not all(status.startswith("200") for status in statuses):
        sys.exit(f"{path}: {sorted(set(statuses))}")


def instructions(tree, path, token, redis_url, prefix, **env):
    out = Path("/tmp") / f"hit-instructions-{os.getpid()}.out"
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    command += [sys.executable, __file__, "--child", str(tree), path, token, redis_url, prefix]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})
    out.unlink(missing_ok=True)
    collected = [line for line in done.stderr.splitlines() if "Collected :" in line]
    if done.returncode or not collected:
        sys.exit(f"{tree} {path}: {done.stderr[-2000:]}")
    return int(collected[-1].rsplit(":", 1)[1]) / REQUESTS


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
        print(f"instructions per request, {REQUESTS} warm requests each (callgrind)")
        print("| read | old | new | new/old | new, no read throttle | /old |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, path in paths.items():
            old = instructions(OLD, path, token, redis.url, "old")
            new = instructions(ROOT, path, token, redis.url, "new")
            bare = instructions(ROOT, path, token, redis.url, "new2", THROTTLE_READ_RATE="off")
            print(f"| {name} | {old:,.0f} | {new:,.0f} | {new / old:.2f} | {bare:,.0f} | {bare / old:.2f} |")
    finally:
        redis.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:])
    else:
        main()
