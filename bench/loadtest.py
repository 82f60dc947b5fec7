"""Realistic load test: `make loadtest` (or `.venv/bin/python bench/loadtest.py`).

Seeds a library once (bench/seed.py) in PostgreSQL (LOADTEST_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/reader_loadtest, created if missing), starts a
redis-server of its own, then for each number of users (50, 200, 500) and each
configuration (cache on, cache off) starts gunicorn with the project's gunicorn.conf.py
and runs bench/locustfile.py headless with Locust: a ramp, then a fixed time. Around each
run it reads what the servers did (bench/probes.py). Raw output (Locust's CSV and HTML
reports, X-Cache counts, results.json) goes to bench/results/loadtest/; the summary and
its plots go to docs/ (bench/loadreport.py).
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import locuststats
from common import ROOT, VENV_BIN, RedisServer, Service, ensure_database, http_get, setup_django
from probes import Probes, delta

DATABASE_URL = os.environ.get("LOADTEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reader_loadtest")
CONFIGS = {"on": {}, "off": {"REDIS_CACHE_ENABLED": "false"}}
OUT = ROOT / "bench" / "results" / "loadtest"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[50, 200, 500], help="users per run")
    parser.add_argument("--configs", nargs="+", choices=tuple(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--seconds", type=int, default=60, help="time of each run after its ramp")
    parser.add_argument("--ramp", type=int, default=10, help="seconds to start every user")
    parser.add_argument("--wait", default="0.5,2.5", help="readers' think time, min,max seconds")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--books", type=int, default=300)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--out", type=Path, default=OUT, help="raw results")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the summary and plots go")
    parser.add_argument("--no-docs", action="store_true", help="raw results only")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(Path(os.environ.get("TMPDIR", "/tmp")), persist=False)
    redis.start()
    try:
        ensure_database(DATABASE_URL)
        setup_django(DATABASE_URL, redis.url)
        from seed import seed, write_plan

        plan = seed(books=args.books, readers=args.readers, log=lambda text: print(text, file=sys.stderr))
        plan_path = write_plan(plan, args.out / "plan.json")
        from django.db import connections

        connections.close_all()  # only gunicorn's backends stay on the database during a run
        probes = Probes(DATABASE_URL, redis)
        runs = []
        try:
            for index, users in enumerate(args.users):
                # The configurations alternate their order, so neither always runs first.
                configs = args.configs if index % 2 == 0 else list(reversed(args.configs))
                for config in configs:
                    runs.append(run_one(args, redis, probes, plan, plan_path, users, config))
                    _save(args, runs)
        finally:
            probes.close()
    finally:
        redis.stop()
    if not args.no_docs:
        from loadreport import write_report

        print(f"report: {write_report(args.out / 'results.json', args.docs)}", file=sys.stderr)


def _save(args, runs):
    meta = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cores": len(os.sched_getaffinity(0)),
        "seconds": args.seconds,
        "ramp": args.ramp,
        "wait": args.wait,
        "books": args.books,
        "readers": args.readers,
    }
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))


def run_one(args, redis, probes, plan, plan_path, users, config):
    name = f"{config}-{users}"
    print(f"run {name}: {users} users, cache {config}, {args.ramp} s ramp + {args.seconds} s", file=sys.stderr)
    redis.client().flushall()  # every run starts with an empty cache (and empty app statistics)
    env = {**CONFIGS[config], "DATABASE_CONN_MAX_AGE": "600"}  # backends live as long as the run: CPU is seen
    with Service(DATABASE_URL, redis.url, args.workers, **env) as service:
        database_before = probes.database()
        before = probes.snapshot(service)
        locust = run_locust(args, service, users, plan_path, name)
        after = probes.snapshot(service)
        app_stats = staff_stats(service, plan["staff_token"]) if config == "on" else None
        workers = len(service.worker_pids())
        relay_seconds = float(service.env.get("REDIS_CACHE_RELAY_SECONDS") or 0.25)  # the settings' default
    backends_gone = probes.wait_for_backends_to_exit()
    database = delta(database_before, probes.database())
    change = delta(before, after)
    result = {
        "name": name,
        "config": config,
        "users": users,
        "workers": workers,
        "relay_seconds": relay_seconds,
        "load_before": before["load"],
        "load_after": after["load"],
        "seconds": change["time"],
        "machine_busy": change["machine_busy"],
        "cpu": {
            "gunicorn": change["gunicorn_cpu"],
            "postgres": sum(max(value, 0) for value in change["postgres_cpu"].values()),
            "redis": change["redis_cpu"],
            "locust": locust["cpu"],
        },
        "postgres": database,
        "postgres_complete": backends_gone,
        "redis_commands": {key: value for key, value in change["redis_commands"].items() if value},
        "endpoints": locust["endpoints"],
        "xcache": locust["xcache"],
        "app_stats": app_stats,
        "locust_warnings": locust["warnings"],
    }
    total = result["endpoints"]["Aggregated"]["requests"]
    print(
        f"  {total} requests, {result['endpoints']['Aggregated']['rps']:.0f} req/s, "
        f"p95 {result['endpoints']['Aggregated']['p95']} ms, "
        f"{database['xact_commit'] / max(total, 1):.2f} db transactions/request, load {after['load'][0]:.1f}",
        file=sys.stderr,
    )
    return result


def run_locust(args, service, users, plan_path, name):
    prefix = args.out / name
    command = [str(VENV_BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless"]
    command += ["-u", str(users), "-r", f"{users / max(args.ramp, 1):g}", "-t", f"{args.ramp + args.seconds}s"]
    command += ["--host", service.url, "--csv", str(prefix), "--html", f"{prefix}.html", "--json-file", str(prefix)]
    command += ["--stop-timeout", "5", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    env = {
        **os.environ,
        "LOADTEST_PLAN": str(plan_path),
        "LOADTEST_COUNTS": f"{prefix}_xcache.json",
        "LOADTEST_WAIT": args.wait,
    }
    log = Path(f"{prefix}.log")
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"locust failed; see {log}")
    text = log.read_text(errors="replace")
    warnings = [line.strip() for line in text.splitlines() if "CPU usage" in line or "Traceback" in line]
    return {
        "cpu": usage.ru_utime + usage.ru_stime,
        "endpoints": locuststats.read(f"{prefix}.json"),  # complete, unlike the CSV (see locuststats)
        "xcache": json.loads(Path(f"{prefix}_xcache.json").read_text()),
        "warnings": warnings[:10],
    }


def staff_stats(service, token):
    """The app's own per-read hits and misses since the run's FLUSHALL (GET admin/cache/stats/)."""
    try:
        status, body = http_get(service.port, "/api/v1/admin/cache/stats/", token, timeout=30)
    except OSError:
        return None
    return json.loads(body) if status.endswith(" 200 OK") else None


if __name__ == "__main__":
    main()
