"""A real Celery worker for the suite: `celery -A config worker --pool=solo` in a subprocess.

It runs with the test settings, handed the test process's database (pytest-django's
test_… database), Redis key prefix and a queue of its own, on the suite's broker
database (TEST_CELERY_BROKER_URL, default Redis database 14): runs side by side never
take each other's jobs. Tests that use it are transactional, since the worker is
another process and only sees committed rows.
"""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from config.celery import app

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """In the child: receive SIGTERM when the test process dies, however it dies (Linux)."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class CeleryWorker:
    def __init__(self, log_path, queue=None, **env):
        self.queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
        self.name = f"{self.queue}@{socket.gethostname()}"
        self.log_path = Path(log_path)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "TEST_DB_NAME": str(connection.settings_dict["NAME"]),
            "TEST_REDIS_URL": settings.CACHES["default"]["LOCATION"],
            "TEST_CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
            "TEST_CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "TEST_CELERY_QUEUE": self.queue,
            "TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            **env,
        }
        self.process = None

    def start(self, timeout=60):
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", self.queue,
                   "-n", self.name, "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "--loglevel=INFO"]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.process.returncode}:\n{self.log()}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return self
        self.kill()
        raise RuntimeError(f"celery worker {self.name} did not answer within {timeout} s:\n{self.log()}")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if self.process is None:
            return
        self.process.terminate()  # warm shutdown: the job in hand is finished first
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def kill(self):
        """SIGKILL, as when the machine or the OOM killer takes the worker mid-job."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(10)
        self.process = None

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def forget_queue(self):
        forget_queue(self.queue)


def forget_queue(queue):
    """Remove a queue (its priority lists too) and its exchange's bindings from the broker, only those."""
    names = [queue, *(f"{queue}\x06\x16{priority}" for priority in (3, 6, 9))]
    names += [f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
    with app.connection_for_write() as conn:
        conn.default_channel.client.delete(*names)


def wait_for_job(client, status_url, timeout=60, until=("done", "failed")):
    """Poll the job's status URL until its state is one of `until`; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(status_url)
        assert answer.status_code == 200, answer.content
        if answer.json()["state"] in until:
            return answer.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {answer.json()} after {timeout} s")
        time.sleep(0.25)  # well under the read rate, however long the job


def wait_until_finished(job_id, timeout=60):
    """The WarmJob once its worker has finished it (done or failed), read from the database."""
    from cacheadmin.models import WarmJob

    deadline = time.monotonic() + timeout
    while True:
        job = WarmJob.objects.get(pk=job_id)
        if job.finished:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.state} after {timeout} s")
        time.sleep(0.25)  # well under the read rate, however long the job
