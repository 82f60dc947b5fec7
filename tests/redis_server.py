"""Redis servers of the test's own: to stop, restart (with its data), pause, kill, or replace by a
server holding older data; and a Sentinel group (a primary, a replica, three sentinels) to fail over."""

import shutil
import signal
import socket
import subprocess
import time

import redis

SENTINEL_MASTER = "reader"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, seconds, interval=0.02):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        time.sleep(interval)
    return False


class RedisServer:
    def __init__(self, directory, persist=True, replica_of=None):
        self.port = free_port()
        self.directory = directory
        self.persist = persist
        self.replica_of = replica_of  # another RedisServer
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self, dbfilename=None):
        """Start; `dbfilename` (a file in the directory, written by snapshot()) loads that data instead."""
        if dbfilename is not None:
            persistence = ["--appendonly", "no", "--dbfilename", dbfilename]
        elif self.persist:
            # appendfsync always: a restart comes back with every write acknowledged before it.
            persistence = ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            persistence = ["--appendonly", "no", "--dbfilename", f"dump-{self.port}.rdb"]
        replication = ["--replicaof", "127.0.0.1", str(self.replica_of.port)] if self.replica_of else []
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--repl-diskless-sync-delay", "0", *persistence, *replication],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not wait_until(lambda: self.client().ping(), 10):
            raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self):
        if self.process is None:
            return
        self.process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
        self.process.wait(10)
        self.process = None

    def kill(self):
        """SIGKILL: nothing is flushed, no client is told."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def restart(self):
        self.stop()
        self.start()

    def pause(self, milliseconds):
        self.client().execute_command("CLIENT", "PAUSE", milliseconds, "ALL")

    def snapshot(self, name):
        """Save the data as it is now to `name` in the directory: what a lagging replica would hold
        (persist=False only)."""
        self.client().save()
        shutil.copyfile(self.directory / f"dump-{self.port}.rdb", self.directory / name)
        return name

    def run_id(self):
        return self.client().info("server")["run_id"]


class SentinelGroup:
    """A primary, a replica and three sentinels on free ports, monitoring the primary as
    SENTINEL_MASTER (quorum 2, down after 500 ms)."""

    DOWN_AFTER_MS = 500
    FAILOVER_TIMEOUT_MS = 3000

    def __init__(self, directory):
        self.directory = directory
        self.primary = RedisServer(directory, persist=False)
        self.replica = RedisServer(directory, persist=False, replica_of=self.primary)
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels = []

    @property
    def addresses(self):
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def sentinel(self, index=0):
        return redis.Redis(host="127.0.0.1", port=self.sentinel_ports[index], socket_timeout=2, decode_responses=True)

    def start(self):
        self.primary.start()
        self.replica.start()
        if not wait_until(lambda: self.replica.client().info("replication")["master_link_status"] == "up", 10):
            raise RuntimeError("the replica did not sync")
        for port in self.sentinel_ports:
            config = self.directory / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} {self.DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SENTINEL_MASTER} {self.FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n"
            )
            self.sentinels.append(
                subprocess.Popen(
                    ["redis-server", str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        # Every sentinel sees the replica and the two other sentinels: a failover can be agreed.
        if not wait_until(lambda: all(self._ready(i) for i in range(3)), 20, interval=0.1):
            raise RuntimeError("the sentinels did not discover each other and the replica")

    def _ready(self, index):
        master = self.sentinel(index).sentinel_master(SENTINEL_MASTER)
        return master["num-slaves"] >= 1 and master["num-other-sentinels"] >= 2

    def master_port(self):
        return int(self.sentinel().sentinel_get_master_addr_by_name(SENTINEL_MASTER)[1])

    def wait_for_failover(self, seconds=20):
        """True once every sentinel names the replica as primary and it acts as one."""

        def done():
            named = {int(self.sentinel(i).sentinel_get_master_addr_by_name(SENTINEL_MASTER)[1]) for i in range(3)}
            return named == {self.replica.port} and self.replica.client().info("replication")["role"] == "master"

        return wait_until(done, seconds, interval=0.05)

    def stop(self):
        for process in self.sentinels:
            process.terminate()
        for process in self.sentinels:
            process.wait(10)
        self.sentinels = []
        self.replica.kill()
        self.primary.kill()
        for path in self.directory.glob("sentinel-*.conf"):
            path.unlink()
