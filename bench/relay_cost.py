"""What the cache relay costs per process and at scale: `.venv/bin/python bench/relay_cost.py`.

Runs relay rounds in-process against a redis-server of its own and PostgreSQL
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/reader_bench): per round
the SQL queries (Django's count), the Redis round trips and the commands Redis executed
(INFO commandstats, scripts' inner commands included), wall time and CPU time of this
process, of the redis-server and of this connection's PostgreSQL backend (/proc, so the
servers must run on this machine). Then multiplies by processes / REDIS_CACHE_RELAY_SECONDS
for 10, 100 and 500 processes. Prints a Markdown report and writes it to bench/results/.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from redis_server import RedisServer, wait_until  # noqa: E402  (tests/redis_server.py)
from run import DATABASE_URL, ensure_database, setup_django  # noqa: E402  (bench/run.py)

TICKS = os.sysconf("SC_CLK_TCK")
INTERVAL = 0.25  # REDIS_CACHE_RELAY_SECONDS' default
PROCESSES = (10, 100, 500)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def commandstats(client):
    stats = client.info("commandstats")
    return {name: value["calls"] for name, value in stats.items()}


def measure(rounds, one_round, redis, backend_pid):
    """Per-round costs of one_round() (which returns how many Redis round trips it made)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        trips = one_round()
    client = redis.client()
    before = commandstats(client)
    redis_cpu, pg_cpu = cpu_seconds(redis.process.pid), cpu_seconds(backend_pid)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        one_round()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    redis_cpu, pg_cpu = cpu_seconds(redis.process.pid) - redis_cpu, cpu_seconds(backend_pid) - pg_cpu
    after = commandstats(client)
    executed = sum(after.values()) - sum(before.values()) - 1  # less our own INFO commandstats
    return {
        "queries": len(queries),
        "trips": trips,
        "commands": executed / rounds,
        "wall_us": wall / rounds * 1e6,
        "cpu_us": cpu / rounds * 1e6,
        "redis_us": redis_cpu / rounds * 1e6,
        "pg_us": pg_cpu / rounds * 1e6,
    }


def rounds_to_measure():
    """name -> one round; each returns its Redis round trips."""
    from cacheadmin.cache import APPLIED_KEY, EPOCH_GENERATION, LEADER_KEY, new_generation, response_cache
    from cacheadmin.models import InvalidationLog

    relay = response_cache.relay
    old_bump = """
    local applied = tonumber(redis.call('GET', KEYS[1]) or '-1')
    if applied < tonumber(ARGV[1]) or ARGV[3] == '1' then
        redis.call('SET', KEYS[2], ARGV[2])
        redis.call('SET', KEYS[1], ARGV[1])
        return 1
    end
    return 0
    """

    def before(client):  # main's Relay.catch_up, run by every process every round
        missed = InvalidationLog.missed_count()
        client.info("server").get("run_id")
        keys = [response_cache.name(APPLIED_KEY), response_cache.name(EPOCH_GENERATION)]
        client.eval(old_bump, 2, *keys, missed, new_generation(), "0")

    def run_before():
        response_cache.run(before)
        return 2

    def as_leader():
        response_cache.backend().client.get_client(write=True).delete(response_cache.name(LEADER_KEY))
        relay._identity = None
        relay.tick()  # takes the lease
        return lambda: (relay.tick(), 2)[1]

    def as_other():
        response_cache.backend().client.get_client(write=True).set(
            response_cache.name(LEADER_KEY), "another process", px=3_600_000
        )
        return lambda: (relay.tick(), 1)[1]

    def new_connection():
        client = response_cache.backend().client.get_client(write=True)
        connection = client.connection_pool.get_connection()
        try:

            def one():
                connection.disconnect()
                connection.connect()  # handshake, with the server check
                return 1

            return one
        finally:
            client.connection_pool.release(connection)

    return {
        "before: every process, every round (DB count, INFO, script)": lambda: run_before,
        "now: the leader's round (lease, DB count, script)": as_leader,
        "now: any other process's round (lease)": as_other,
        "now: a new connection's server check (once per connection)": new_connection,
    }


def retirement_ms(redis, count=1000):
    """p50 and p99 ms of one retirement (one generation), without and with WAIT for a replica."""
    from django.test import override_settings

    from cacheadmin.cache import response_cache
    from cacheadmin.models import InvalidationLog

    replica = RedisServer(redis.directory, persist=False, replica_of=redis)
    replica.start()
    if not wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up", 10):
        raise RuntimeError("the replica did not sync")
    try:
        waited = {}
        for wait_ms in (0, 100):
            missed = InvalidationLog.missed_count()
            with override_settings(REDIS_REPLICA_WAIT_MS=wait_ms):
                times = []
                for _ in range(count):
                    started = time.perf_counter()
                    response_cache.retire(["gen:book:1"])
                    times.append((time.perf_counter() - started) * 1000)
            times.sort()
            unacknowledged = InvalidationLog.missed_count() - missed
            waited[wait_ms] = (times[len(times) // 2], times[int(len(times) * 0.99)], unacknowledged, count)
        return waited
    finally:
        replica.kill()


def report(results, rounds, retirements):
    lines = [
        "# Relay cost",
        "",
        f"{rounds} rounds each, in-process, against a redis-server and PostgreSQL on this machine.",
        "",
        "| round | SQL | Redis round trips | Redis commands run | wall µs | app CPU µs | Redis CPU µs "
        "| PostgreSQL CPU µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['queries']} | {r['trips']} | {r['commands']:.1f} | {r['wall_us']:.0f} | "
            f"{r['cpu_us']:.0f} | {r['redis_us']:.1f} | {r['pg_us']:.1f} |"
        )
    names = list(results)
    old, leader, other = results[names[0]], results[names[1]], results[names[2]]
    lines += [
        "",
        f"At one round per process every {INTERVAL} s:",
        "",
        "| processes | before: SQL/s | Redis trips/s | Redis CPU | PostgreSQL CPU | app CPU, all processes | "
        "now: SQL/s | Redis trips/s | Redis CPU | PostgreSQL CPU | app CPU, all processes |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in PROCESSES:
        per_second = n / INTERVAL
        lead = 1 / INTERVAL
        old_sql, old_trips = per_second * old["queries"], per_second * old["trips"]
        old_redis, old_pg = per_second * old["redis_us"] / 1e4, per_second * old["pg_us"] / 1e4
        new_sql = lead * leader["queries"]
        new_trips = lead * leader["trips"] + (per_second - lead) * other["trips"]
        new_redis = (lead * leader["redis_us"] + (per_second - lead) * other["redis_us"]) / 1e4
        new_pg = lead * leader["pg_us"] / 1e4
        old_app = per_second * old["cpu_us"] / 1e4
        new_app = (lead * leader["cpu_us"] + (per_second - lead) * other["cpu_us"]) / 1e4
        lines.append(
            f"| {n} | {old_sql:.0f} | {old_trips:.0f} | {old_redis:.1f}% | {old_pg:.1f}% | {old_app:.0f}% | "
            f"{new_sql:.0f} | {new_trips:.0f} | {new_redis:.1f}% | {new_pg:.2f}% | {new_app:.0f}% |"
        )
    lines += [
        "",
        "CPU as a share of one core. Before, each process's relay thread also held a PostgreSQL",
        "connection of its own; now only the leader's (and a process catching up after its own miss).",
        "",
        "One retirement (a pipeline of SETs), with a replica on this machine:",
        "",
        "| REDIS_REPLICA_WAIT_MS | p50 ms | p99 ms | left to the relay (no replica in time) |",
        "| ---: | ---: | ---: | ---: |",
        *(
            f"| {wait} | {p50:.3f} | {p99:.3f} | {missed} of {count} |"
            for wait, (p50, p99, missed, count) in retirements.items()
        ),
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    os.environ["REDIS_CACHE_RELAY_SECONDS"] = str(INTERVAL)  # the lease's length; no thread runs here
    redis = RedisServer(Path(os.environ.get("TMPDIR", "/tmp")), persist=False)
    redis.start()
    try:
        ensure_database()
        setup_django(redis.url)
        from django.core.management import call_command
        from django.db import connection

        from cacheadmin.cache import response_cache

        call_command("migrate", verbosity=0)
        response_cache.relay.ensure_running = lambda: None  # measure rounds, not a thread
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = cursor.fetchone()[0]
        results = {}
        for name, make in rounds_to_measure().items():
            results[name] = measure(args.rounds, make(), redis, backend_pid)
        retirements = retirement_ms(redis)
    finally:
        redis.stop()
    text = report(results, args.rounds, retirements)
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "relay.md").write_text(text)


if __name__ == "__main__":
    print(f"database: {DATABASE_URL}", file=sys.stderr)
    main()
