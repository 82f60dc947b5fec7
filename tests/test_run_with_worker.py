"""`make run`'s gunicorn with its Celery worker (gunicorn.conf.py's when_ready/on_exit hooks).

The real thing: gunicorn with GUNICORN_START_WORKER=1 (as `make run` sets it) against the
test database and a redis-server of the test's own, whose database 0 holds the cache and
database 1 the broker (CELERY_BROKER_URL derived from REDIS_URL).
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import make_book
from tests.redis_server import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.fault,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="gunicorn needs a database it can share"),
]

ROOT = Path(__file__).resolve().parent.parent


def database_url():
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def state_of(pid):
    """The process' state letter from /proc ('R', 'S', 'Z'…), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def alive(pid):
    return state_of(pid) not in {None, "Z", "X"}


def children_of(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def family(pid):
    """pid and all its descendants."""
    members, todo = [], [pid]
    while todo:
        current = todo.pop()
        members.append(current)
        todo.extend(children_of(current))
    return members


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


class Gunicorn:
    def __init__(self, redis_url, log_path, media):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_START_WORKER": "1",
            "WEB_CONCURRENCY": "2",
            "CELERY_WORKER_CONCURRENCY": "1",
            "MEDIA_ROOT": str(media),
        }
        self.env.pop("CELERY_BROKER_URL", None)  # derived from REDIS_URL
        self.process = None
        self.members = []

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for(self.healthy, 30, "gunicorn did not answer /healthz")
        wait_for(lambda: " ready." in self.log(), 60, f"the Celery worker did not start:\n{self.log()}")
        self.members = family(self.process.pid)
        return self

    def healthy(self):
        try:
            urllib.request.urlopen(f"{self.base}/healthz", timeout=1)
            return True
        except OSError:
            return False

    def log(self):
        return self.log_path.read_text(errors="replace")

    def celery_pid(self):
        for line in self.log().splitlines():
            if "Started a Celery worker (pid: " in line:
                return int(line.rsplit("(pid: ", 1)[1].rstrip(")"))
        raise AssertionError(f"no worker started:\n{self.log()}")

    def call(self, path, token, method="GET", body=None):
        url = path if path.startswith("http") else f"{self.base}{path}"
        request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
        request.add_header("Authorization", f"Bearer {token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")

    def stop(self):
        """Kill what is left, and wait until no process of it holds the test database."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for pid in self.members:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not any(map(alive, self.members)), 15, "gunicorn's processes did not end")


@pytest.fixture
def gunicorn(own_redis, tmp_path):
    server = Gunicorn(own_redis.url, tmp_path / "gunicorn.log", tmp_path / "media")
    yield server
    server.stop()


def test_warm_through_gunicorn_runs_on_its_worker_and_both_stop_together(gunicorn, own_redis, staff, user):
    book = make_book(user, chapters=3)
    gunicorn.start()
    workers = family(gunicorn.celery_pid())
    assert all(map(alive, workers))

    # A fresh Redis: the first relay check of the processes retires every answer once (Redis may
    # have come back empty); let it pass, so it cannot retire what the job is about to store.
    assert gunicorn.call(f"/api/v1/books/{book.pk}/", user.auth_token.key)[0] == 200
    wait_for(lambda: own_redis.client().exists("reader:1:relay:missed-applied"), 10, "no relay check")
    token = staff.auth_token.key
    status, headers, body = gunicorn.call("/api/v1/admin/cache/warm/", token, "POST", {"books": [book.pk]})
    assert status == 202 and headers["Location"] == body["status_url"]
    wait_for(
        lambda: gunicorn.call(body["status_url"], token)[2]["state"] == "done",
        60,
        f"the job did not finish:\n{gunicorn.log()}",
    )
    for number in (1, 2, 3):
        _, headers, _ = gunicorn.call(f"/api/v1/books/{book.pk}/chapters/{number}/", user.auth_token.key)
        assert headers["X-Cache"] == "HIT"
    # The queue lives in a database of its own: 1, beside the cache's 0.
    broker = own_redis.client()
    broker.execute_command("SELECT", 1)
    assert any(name.startswith(b"_kombu.binding.") for name in broker.keys("*"))
    assert not own_redis.client().keys("_kombu*")

    gunicorn.process.send_signal(signal.SIGINT)  # Ctrl-C on `make run`
    gunicorn.process.wait(60)
    wait_for(lambda: not any(map(alive, workers)), 30, f"the Celery worker outlived gunicorn:\n{gunicorn.log()}")
    assert "Stopping the Celery worker" in gunicorn.log()


def test_the_worker_dies_with_a_killed_gunicorn(gunicorn):
    gunicorn.start()
    workers = family(gunicorn.celery_pid())
    gunicorn.process.kill()  # no hook runs: the kernel tells the worker (PR_SET_PDEATHSIG)
    gunicorn.process.wait(10)
    wait_for(lambda: not any(map(alive, workers)), 30, "the Celery worker outlived a killed gunicorn")


def test_gunicorn_starts_no_worker_unless_asked(own_redis, tmp_path):
    server = Gunicorn(own_redis.url, tmp_path / "gunicorn.log", tmp_path / "media")
    server.env["GUNICORN_START_WORKER"] = "0"
    with open(server.log_path, "ab") as log:
        server.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"],
            cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(server.healthy, 30, "gunicorn did not answer /healthz")
        server.members = family(server.process.pid)
        assert "Celery" not in server.log()
        assert not any("celery" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                       for pid in family(server.process.pid) if state_of(pid))  # fmt: skip
    finally:
        server.stop()
