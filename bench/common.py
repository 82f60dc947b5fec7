"""What bench/run.py and bench/loadtest.py share: the database, Django, gunicorn, CPU clocks."""

import os
import runpy
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.redis_server import RedisServer, free_port  # noqa: E402, F401  (re-exported for the bench)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The environment before setup_django() changed it for this process: gunicorn gets this one.
BASE_ENV = dict(os.environ)


def ensure_database(url):
    """Create the database named at the end of `url` if it does not exist yet."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


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


def setup_django(database_url, redis_url):
    """Django in this process, on the bench's database and Redis (no relay thread)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("REDIS_CACHE_RELAY_SECONDS", "0")
    for name, value in BENCH_SETTINGS.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()


def cpu_seconds(pid):
    """User + system CPU seconds of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds():
    """CPU seconds the whole machine spent not idle (all cores, every process)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def load_average():
    return tuple(float(value) for value in Path("/proc/loadavg").read_text().split()[:3])


def http_get(port, path, token=None, timeout=5):
    """Status line and body of one GET (no keep-alive), for readiness checks and staff calls."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Accept: application/json\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].decode(), body


class Service:
    """gunicorn with the project's gunicorn.conf.py on a free port, until the with block ends.

    `workers=None` keeps gunicorn.conf.py's default (2 x cores + 1).
    """

    def __init__(self, database_url, redis_url, workers=None, **env):
        self.port = free_port()
        self.env = {
            **BASE_ENV,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_MAX_REQUESTS": "0",  # no worker restarts in the middle of a measurement
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **BENCH_SETTINGS,
            **env,
        }
        if workers:
            self.env["WEB_CONCURRENCY"] = str(workers)
        self.workers = workers or runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"]
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "config.wsgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if http_get(self.port, "/healthz", timeout=1)[0].endswith(" 200 OK"):
                    # Every worker up, not only the first one that answered.
                    while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
                        time.sleep(0.1)
                    return self
            except OSError:
                time.sleep(0.2)
        self.process.kill()
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(60)

    def worker_pids(self):
        pid = self.process.pid
        try:
            return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except FileNotFoundError:
            return []

    def cpu_seconds(self):
        """CPU seconds of the master and every worker so far."""
        return sum(map(cpu_seconds, [self.process.pid, *self.worker_pids()]))
