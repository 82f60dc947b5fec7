"""Two gunicorn instances (two hosts behind a load balancer) on Redis through Sentinel.

A writer changes a book's title to v1, v2, ... through instance A; readers read it through A and
B. A read that starts after a write was acknowledged must show that version or a newer one, on
either instance: before, during and after the primary is killed (SIGKILL) and a replica takes over.
"""

import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
from django.db import connection

from books.models import Visibility
from tests.factories import make_book
from tests.gunicorn_server import call, gunicorn
from tests.redis_server import SENTINEL_MASTER, SentinelGroup, free_port, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.fault,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="gunicorn needs a database it can share"),
]


@pytest.fixture(scope="module")
def cluster(django_db_setup, tmp_path_factory):
    """Sentinel (a primary, a replica, three sentinels) and two gunicorn instances using it."""
    directory = tmp_path_factory.mktemp("sentinel")
    group = SentinelGroup(directory)
    group.start()
    env = {
        "REDIS_SENTINELS": group.addresses,
        "REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
        "REDIS_KEY_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}",
        # Three threads read as fast as the servers answer, well past a person's 600 reads a
        # minute on a quiet machine: the read throttle (tested on its own) would answer 429.
        "THROTTLE_READ_RATE": "1000000/min",
    }
    try:
        with gunicorn(directory, workers=2, **env) as a, gunicorn(directory, workers=2, **env) as b:
            yield group, a, b
    finally:
        group.stop()


@dataclass
class Read:
    at: float
    instance: str
    status: int
    cache: str
    version: int | None
    floor: int  # the newest version acknowledged before this read was sent


@dataclass
class Drive:
    """A writer through A and readers through both, in threads, recording every answer."""

    a: str
    b: str
    book_id: int
    owner: str
    reader: str
    acked: int = 0
    reads: list = field(default_factory=list)
    writes: list = field(default_factory=list)  # (at, status, version)

    def __post_init__(self):
        self.lock = threading.Lock()
        self.writing, self.reading = threading.Event(), threading.Event()
        self.threads = []

    def start(self):
        self.writing.set()
        self.reading.set()
        readers = [
            (self.reader, "detail", (self.a, self.b)),
            (self.owner, "detail", (self.b,)),
            (self.reader, "list", (self.b, self.a)),
        ]
        self.threads = [threading.Thread(target=self._write)] + [
            threading.Thread(target=self._read, args=reader) for reader in readers
        ]
        for thread in self.threads:
            thread.start()

    def stop_writing(self):
        self.writing.clear()

    def stop(self):
        self.writing.clear()
        self.reading.clear()
        for thread in self.threads:
            thread.join(30)

    def _write(self):
        version = 0
        while self.writing.is_set():
            version += 1
            status, _, _ = call(f"{self.a}/api/v1/books/{self.book_id}/", self.owner, "PATCH", {"title": f"v{version}"})
            with self.lock:
                self.writes.append((time.monotonic(), status, version))
                if status == 200:
                    self.acked = version
            time.sleep(0.03)

    def _read(self, token, kind, bases):
        turn = 0
        while self.reading.is_set():
            base = bases[turn % len(bases)]
            turn += 1
            url = f"{base}/api/v1/books/{self.book_id}/" if kind == "detail" else f"{base}/api/v1/books/?shelf=public"
            with self.lock:
                floor = self.acked
            status, cache, body = call(url, token)
            version = None
            if status == 200:
                item = body if kind == "detail" else next(i for i in body["results"] if i["id"] == self.book_id)
                version = int(item["title"][1:])
            with self.lock:
                self.reads.append(Read(time.monotonic(), "A" if base == self.a else "B", status, cache, version, floor))

    def hits_since(self, since, instance):
        with self.lock:
            return sum(r.cache == "HIT" and r.at > since and r.instance == instance for r in self.reads)

    def crossed(self):
        """Reads on B that started after a write on A was acknowledged."""
        with self.lock:
            return sum(r.instance == "B" and r.floor > 0 for r in self.reads)

    def stale(self):
        return [r for r in self.reads if r.status == 200 and r.version < r.floor]

    def failed(self):
        return [r for r in self.reads if r.status != 200] + [w for w in self.writes if w[1] != 200]

    def summary(self, since=0.0, until=float("inf")):
        counts = {}
        for r in self.reads:
            if since <= r.at < until:
                counts[r.cache] = counts.get(r.cache, 0) + 1
        return counts


@pytest.fixture
def drive(cluster, user, other):
    _, a, b = cluster
    book = make_book(user, title="v0", chapters=1, visibility=Visibility.PUBLIC)
    driver = Drive(a, b, book.pk, user.auth_token.key, other.auth_token.key)
    yield driver
    driver.stop()


def test_a_write_on_one_host_is_never_followed_by_an_older_answer_on_the_other(drive):
    drive.start()
    started = time.monotonic()
    assert wait_until(lambda: drive.hits_since(started, "A") and drive.hits_since(started, "B"), 15)
    assert wait_until(lambda: drive.acked >= 10 and drive.hits_since(started, "B") >= 10 and drive.crossed() >= 20, 40)
    drive.stop()

    assert drive.stale() == []
    assert drive.failed() == []


def test_no_stale_read_and_no_error_through_a_failover_and_caching_resumes(cluster, drive):
    group = cluster[0]
    drive.start()
    started = time.monotonic()
    assert wait_until(lambda: drive.hits_since(started, "A") and drive.hits_since(started, "B"), 15)
    # The replica falls behind (its link broken): the last writes the primary acknowledges are
    # lost in the failover, as asynchronous replication allows.
    group.replica.client().replicaof("127.0.0.1", free_port())
    detached = drive.acked
    assert wait_until(lambda: drive.acked >= detached + 2, 10)
    lost = group.primary.client().info("replication")["master_repl_offset"]
    assert lost > group.replica.client().info("replication")["slave_repl_offset"]

    killed = time.monotonic()
    group.primary.kill()
    assert group.wait_for_failover(30)
    promoted = time.monotonic()
    time.sleep(1.5)  # writes go on against the new primary
    drive.stop_writing()
    quiet = time.monotonic()
    assert wait_until(lambda: drive.hits_since(quiet, "A") and drive.hits_since(quiet, "B"), 10)
    drive.stop()

    print(  # the numbers the README quotes
        f"failover {promoted - killed:.2f}s; reads before {drive.summary(0, killed)}, "
        f"during {drive.summary(killed, promoted)}, after {drive.summary(promoted)}; "
        f"writes {len(drive.writes)}"
    )
    assert drive.stale() == []
    assert drive.failed() == []  # not one 5xx, not even while the primary was gone
    assert group.master_port() == group.replica.port
    assert any(at > promoted and status == 200 for at, status, _ in drive.writes)
    assert any(r.at > killed and r.at < promoted and r.status == 200 for r in drive.reads)
