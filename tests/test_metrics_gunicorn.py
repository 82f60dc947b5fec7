"""/metrics under real gunicorn workers: every worker's counts add up in one scrape."""

import os
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from books.models import Visibility
from tests.factories import make_book
from tests.gunicorn_server import ROOT, Gunicorn
from tests.test_metrics import READS, change, parse, value

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.fault,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="gunicorn needs a database it can share"),
]

REQUESTS = 60
WORKERS = 3


@pytest.fixture
def metrics_dir(tmp_path):
    return tmp_path / "prometheus"


@pytest.fixture
def gunicorn(own_redis, tmp_path, metrics_dir):
    """Three workers, each recycled after a few requests: counts must survive their workers."""
    env = {
        "REDIS_URL": own_redis.url,
        "GUNICORN_MAX_REQUESTS": "15",
        "GUNICORN_MAX_REQUESTS_JITTER": "0",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999999.db").write_bytes(b"\0" * 8)  # a dead process of an earlier run
    server = Gunicorn(env, tmp_path / "gunicorn.log", workers=WORKERS).start(timeout=60)  # the machine may be busy
    yield server.url
    server.stop()


def get(url, token):
    request = urllib.request.Request(url)
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=60) as response:  # a worker may be restarting on a busy machine
        return response.status, response.headers.get("X-Cache"), response.read()


def pids(directory, prefix):
    return {int(path.stem.rsplit("_", 1)[-1]) for path in directory.glob(f"{prefix}_*.db")}


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_counts_of_every_worker_add_up_across_worker_restarts(gunicorn, metrics_dir, user, staff):
    book = make_book(user, title="Counted", visibility=Visibility.PUBLIC)
    scrape = f"{gunicorn}/metrics"
    before = parse(get(scrape, staff.auth_token.key)[2].decode())
    assert not (metrics_dir / "counter_999999999.db").exists()  # the earlier run's files are gone

    with ThreadPoolExecutor(4) as pool:  # concurrent: several workers answer
        answers = list(
            pool.map(lambda _: get(f"{gunicorn}/api/v1/books/{book.pk}/", user.auth_token.key), range(REQUESTS))
        )
    # A worker writes its answers to the metrics once per relay round (cacheadmin.metrics.
    # PendingReads), or as it exits: a scrape right after the requests may miss the last ones
    # of a worker still running, never for longer than a round or two.
    deadline = time.monotonic() + 10
    while True:
        after = parse(get(scrape, staff.auth_token.key)[2].decode())
        counted = sum(change(before, after, READS, read="book", outcome=o) for o in ("HIT", "MISS", "BYPASS"))
        if counted >= REQUESTS or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    served = {outcome: sum(cache == outcome for _, cache, _ in answers) for outcome in ("HIT", "MISS", "BYPASS")}
    assert all(status == 200 for status, _, _ in answers)
    assert served["HIT"] >= REQUESTS // 2
    for outcome, count in served.items():
        assert change(before, after, READS, read="book", outcome=outcome) == count
    assert change(before, after, "reader_cache_read_seconds_count", read="book", outcome="HIT") == served["HIT"]

    # More processes counted than there are workers: workers were recycled, their counts kept.
    counted_by = pids(metrics_dir, "counter")
    assert len(counted_by) > WORKERS
    # The breaker gauge is per live worker; child_exit dropped those of the recycled ones.
    time.sleep(0.5)  # a worker that just served its last request is reaped
    breaker = {
        int(labels["pid"]): sample_value
        for (name, label_items), sample_value in after.items()
        if name == "reader_cache_breaker_open"
        for labels in [dict(label_items)]
    }
    assert breaker and set(breaker.values()) == {0}
    assert all(alive(pid) for pid in pids(metrics_dir, "gauge_liveall"))
    assert len(pids(metrics_dir, "gauge_liveall")) <= WORKERS
    assert value(after, READS, read="chapter", outcome="HIT") == 0  # declared, never read


@pytest.fixture
def conf(monkeypatch):
    """gunicorn.conf.py's hooks, in an environment they may change (restored afterwards)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.setenv(module._PRIVATE_DIR_MARK, "")
    return module


@pytest.mark.django_db(transaction=False)
def test_without_a_directory_the_server_makes_its_own_and_removes_it(conf):
    conf.on_starting(None)
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert directory.is_dir() and directory.name == f"reader-metrics-{os.getpid()}"
    conf.on_exit(None)
    assert not directory.exists()


@pytest.mark.django_db(transaction=False)
def test_a_given_directory_keeps_live_processes_files_and_is_not_removed(conf, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    live, dead = tmp_path / f"counter_{os.getpid()}.db", tmp_path / "histogram_999999999.db"
    live.write_bytes(b"\0" * 8)
    dead.write_bytes(b"\0" * 8)
    conf.on_starting(None)
    assert (live.exists(), dead.exists()) == (True, False)
    conf.on_exit(None)
    assert tmp_path.is_dir()
