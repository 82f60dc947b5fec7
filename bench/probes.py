"""What a load test run cost, read from the servers themselves: PostgreSQL, Redis, /proc.

PostgreSQL: pg_stat_statements needs `shared_preload_libraries` and so a server restart,
which a shared development server does not get; the cumulative statistics views need
nothing. So statements are counted as transactions (pg_stat_database.xact_commit +
xact_rollback: Django runs every query outside an atomic block in autocommit, one
transaction each, and a write's atomic block counts once), next to rows read
(tup_returned + tup_fetched), rows written, and table scans (pg_stat_user_tables seq_scan +
idx_scan) — all of this database only. A backend reports its counts at the end of a
transaction at most once a second, and all of them when it exits: the final snapshot is
taken after gunicorn has stopped and its backends are gone.

Redis: INFO commandstats of the bench's own redis-server (nothing else talks to it).
CPU: /proc/<pid>/stat of gunicorn's master and workers, of the PostgreSQL backends serving
this database (from pg_stat_activity), of redis-server; and the whole machine's busy time.
"""

import time

import psycopg
from common import cpu_seconds, load_average, machine_busy_seconds

PG_DATABASE = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated",
               "tup_deleted", "blks_hit", "blks_read")  # fmt: skip
PG_TABLES = ("seq_scan", "idx_scan", "seq_tup_read", "idx_tup_fetch")


class Probes:
    def __init__(self, database_url, redis):
        self.name = database_url.rsplit("/", 1)[1]
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.redis = redis

    def close(self):
        self.conn.close()

    # --- PostgreSQL -----------------------------------------------------------------------

    def database(self):
        """This database's cumulative counters (xact_*, tup_*, blks_*) and its tables' scans."""
        row = self.conn.execute(
            f"SELECT {', '.join(PG_DATABASE)} FROM pg_stat_database WHERE datname = %s", [self.name]
        ).fetchone()
        tables = self.conn.execute(
            f"SELECT {', '.join(f'COALESCE(SUM({column}), 0)' for column in PG_TABLES)} FROM pg_stat_user_tables"
        ).fetchone()
        return {
            **dict(zip(PG_DATABASE, map(int, row), strict=True)),
            **dict(zip(PG_TABLES, map(int, tables), strict=True)),
        }

    def backends(self):
        """PIDs of the other backends connected to this database."""
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.name]
        ).fetchall()
        return [pid for (pid,) in rows]

    def wait_for_backends_to_exit(self, timeout=20):
        deadline = time.monotonic() + timeout
        while self.backends() and time.monotonic() < deadline:
            time.sleep(0.2)
        return not self.backends()

    # --- Redis --------------------------------------------------------------------------

    def redis_commands(self):
        stats = self.redis.client().info("commandstats")
        return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}

    # --- a whole snapshot ------------------------------------------------------------------

    def snapshot(self, service):
        """Everything at once, except the database counters (see `database`)."""
        return {
            "time": time.monotonic(),
            "load": load_average(),
            "machine_busy": machine_busy_seconds(),
            "gunicorn_cpu": service.cpu_seconds(),
            "redis_cpu": cpu_seconds(self.redis.process.pid),
            "postgres_cpu": {pid: cpu_seconds(pid) for pid in self.backends()},
            "redis_commands": self.redis_commands(),
        }


def delta(before, after):
    """after - before for numbers; per key for dicts (a key missing before counts from 0)."""
    if isinstance(after, dict):
        return {
            key: delta(before.get(key, 0) if isinstance(before, dict) else 0, value) for key, value in after.items()
        }
    if isinstance(after, tuple | list):
        return after
    return after - before
