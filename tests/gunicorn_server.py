"""Real gunicorn instances of this project, started on free ports against the test database."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent


def database_url():
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def gunicorn(media_root, workers=3, **env):
    """Yield the base URL of a gunicorn instance (config.settings, the test database, `env`)."""
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "MEDIA_ROOT": str(media_root),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("gunicorn exited") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(30)


def call(url, token, method="GET", body=None, timeout=10):
    """(status, X-Cache, decoded body); an HTTP error status is returned, not raised."""
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("X-Cache"), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Cache"), None
