"""GET /metrics: who may scrape it, and that what the cache does shows up, parsed by prometheus-client."""

import os
import subprocess
import sys
import threading
import time

import pytest
from django.db import connections
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from books import cached
from books.models import Visibility
from cacheadmin import metrics
from cacheadmin.cache import SERVER_KEY, STATS_KEY, response_cache
from cacheadmin.models import InvalidationLog
from cacheadmin.responses import compute
from tests.conftest import APIClient, client_for
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)

READS = "reader_cache_reads_total"
SECONDS = "reader_cache_read_seconds"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(text):
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client):
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


def here():
    """What this process would answer a scrape with, without a request (none of its counting)."""
    return parse(metrics.exposition().decode())


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def change(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def book(user):
    return make_book(user, title="Measured", chapters=3, visibility=Visibility.PUBLIC)


@pytest.fixture
def scraper(staff):
    return client_for(staff)


# --- access -----------------------------------------------------------------------------


def test_anonymous_is_asked_to_authenticate(anon):
    response = anon.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "detail" in response.json()


def test_signed_in_without_the_permission_is_refused(api):
    response = api.get("/metrics")
    assert response.status_code == 403
    assert "detail" in response.json()


def test_staff_get_the_text_format_whatever_they_accept(scraper):
    for accept in ("", "text/plain", "application/openmetrics-text;version=1.0.0,*/*;q=0.1"):
        response = scraper.get("/metrics", HTTP_ACCEPT=accept)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert b"# TYPE reader_cache_reads_total counter" in response.content


def test_a_staff_session_works_too(staff):
    client = APIClient()
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200


# --- cached reads -----------------------------------------------------------------------


def test_hits_misses_and_bypasses_are_counted_per_read(api, book, scraper, settings):
    base = f"/api/v1/books/{book.pk}"
    before = scrape(scraper)

    served = [api.get(f"{base}/")["X-Cache"] for _ in range(3)]
    served += [api.get(f"{base}/chapters/1/")["X-Cache"] for _ in range(2)]
    etag = api.get(f"{base}/")["ETag"]
    not_modified = api.get(f"{base}/", HTTP_IF_NONE_MATCH=etag)
    settings.REDIS_CACHE_ENABLED = False
    bypassed = api.get(f"{base}/")["X-Cache"]
    settings.REDIS_CACHE_ENABLED = True

    after = scrape(scraper)
    assert served == ["MISS", "HIT", "HIT", "MISS", "HIT"]
    assert (not_modified.status_code, not_modified["X-Cache"], bypassed) == (304, "HIT", "BYPASS")
    assert change(before, after, READS, read="book", outcome="MISS") == 1
    assert change(before, after, READS, read="book", outcome="HIT") == 4  # two, the ETag's, the 304
    assert change(before, after, READS, read="book", outcome="BYPASS") == 1
    assert change(before, after, READS, read="chapter", outcome="MISS") == 1
    assert change(before, after, READS, read="chapter", outcome="HIT") == 1
    assert change(before, after, READS, read="chapter_list", outcome="HIT") == 0
    # One observation of latency per answer, in seconds, by outcome.
    assert change(before, after, f"{SECONDS}_count", read="book", outcome="HIT") == 4
    assert change(before, after, f"{SECONDS}_count", read="book", outcome="MISS") == 1
    assert change(before, after, f"{SECONDS}_bucket", read="book", outcome="HIT", le="+Inf") == 4
    assert 0 < change(before, after, f"{SECONDS}_sum", read="book", outcome="HIT") < 4 * 5.0
    # One stored answer for the book; the chapter's miss stored chapter 1 and prefetched chapter 2.
    assert change(before, after, "reader_cache_answer_bytes_count", read="book") == 1
    assert change(before, after, "reader_cache_answer_bytes_count", read="chapter") == 2
    assert change(before, after, "reader_cache_answer_bytes_sum", read="book") > 50


def unwritten():
    """What a scrape would read now, without writing this process's pending answers first."""
    return parse(generate_latest(metrics.collected()).decode())


def test_answers_are_added_up_and_written_as_their_observations_would_be():
    before = here()  # writes anything pending
    for seconds in (0.0001, 0.001, 7.0):  # in the first bucket, on a bound, past the last one
        metrics.cached_read("book", "MISS", seconds)
    pending = unwritten()
    after = here()

    assert change(before, pending, READS, read="book", outcome="MISS") == 0
    assert change(before, after, READS, read="book", outcome="MISS") == 3
    buckets = {
        le: change(before, after, f"{SECONDS}_bucket", read="book", outcome="MISS", le=le)
        for le in ("0.0005", "0.001", "0.0025", "5.0", "+Inf")
    }
    assert buckets == {"0.0005": 1, "0.001": 2, "0.0025": 2, "5.0": 2, "+Inf": 3}  # cumulative, as observe()
    assert change(before, after, f"{SECONDS}_count", read="book", outcome="MISS") == 3
    assert change(before, after, f"{SECONDS}_sum", read="book", outcome="MISS") == pytest.approx(7.0011)


def test_the_relay_thread_writes_them_each_round(settings):
    settings.REDIS_CACHE_RELAY_SECONDS = 0.05
    before = here()
    metrics.cached_read("chapter", "HIT", 0.001)
    response_cache.relay.ensure_running()
    try:
        deadline = time.monotonic() + 10
        while not change(before, unwritten(), READS, read="chapter", outcome="HIT") and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        response_cache.relay.stop()
    assert change(before, unwritten(), READS, read="chapter", outcome="HIT") == 1


@pytest.mark.parametrize("cache_on", [True, False])
def test_without_a_relay_thread_an_answer_writes_them_once_a_second(api, book, settings, cache_on):
    """The relay turned off (settings_test), or the cache: no relay thread writes them, and
    Redis has no part in it (with the cache off every answer is a BYPASS)."""
    settings.REDIS_CACHE_ENABLED = cache_on
    settings.REDIS_CACHE_RELAY_SECONDS = 0 if cache_on else 0.05
    outcome = "HIT" if cache_on else "BYPASS"
    assert response_cache.relay.thread is None
    before = here()
    api.get(f"/api/v1/books/{book.pk}/")
    assert api.get(f"/api/v1/books/{book.pk}/")["X-Cache"] == outcome
    assert change(before, unwritten(), READS, read="book", outcome=outcome) == 0  # within the second

    metrics.pending_reads.flushed_at -= metrics.PendingReads.FLUSH_SECONDS
    response_cache.stats.flushed_at -= metrics.PendingReads.FLUSH_SECONDS  # the statistics too
    assert api.get(f"/api/v1/books/{book.pk}/")["X-Cache"] == outcome
    assert response_cache.relay.thread is None
    assert change(before, unwritten(), READS, read="book", outcome=outcome) == (2 if cache_on else 3)
    if cache_on:  # the statistics per read, in Redis: the miss and the hits
        stats = response_cache.backend().client.get_client().hgetall(response_cache.name(STATS_KEY))
        assert (stats[b"book:misses"], stats[b"book:hits"]) == (b"1", b"2")


def test_a_forked_child_does_not_write_its_parents_answers_again():
    before = here()
    metrics.cached_read("progress", "HIT", 0.001)
    response_cache.stats.count("progress", "hits")  # the statistics are a Tally too
    child = os.fork()
    if child == 0:  # the child: its exit would write whatever it still holds
        os._exit(0 if not metrics.pending_reads._pending and not response_cache.stats._pending else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert change(before, here(), READS, read="progress", outcome="HIT") == 1


def test_every_declared_read_is_listed_before_it_is_used(scraper):
    samples = scrape(scraper)
    for read in ("book_list", "book", "chapter_list", "chapter", "progress", "descriptions"):
        for outcome in ("HIT", "MISS", "BYPASS"):
            assert (READS, (("outcome", outcome), ("read", read))) in samples
    assert not any(dict(labels).get("read") == "token_user" for name, labels in samples if name == READS)


def test_errors_are_not_cached_answers(api, other, book, scraper):
    book.visibility = Visibility.PRIVATE
    book.save()
    before = scrape(scraper)
    assert client_for(other).get(f"/api/v1/books/{book.pk}/").status_code == 404
    assert api.get("/api/v1/books/?shelf=nonsense").status_code == 400
    after = scrape(scraper)
    for read in ("book", "book_list"):
        for outcome in ("HIT", "MISS", "BYPASS"):
            assert change(before, after, READS, read=read, outcome=outcome) == 0


# --- the engine -------------------------------------------------------------------------


def test_breaker_trips_and_missed_retirements_while_redis_is_down(api, book, redis_down):
    before = here()
    assert api.get(f"/api/v1/books/{book.pk}/")["X-Cache"] == "BYPASS"
    during = here()
    assert api.patch(f"/api/v1/books/{book.pk}/", {"title": "Down"}, format="json").status_code == 200
    after = here()
    response_cache.breaker.succeeded()  # what the next successful Redis call does
    closed = here()

    assert change(before, during, "reader_cache_breaker_trips_total") >= 1
    assert value(before, "reader_cache_breaker_open") == 0
    assert value(during, "reader_cache_breaker_open") == 1
    assert change(during, after, "reader_cache_retirements_total", result="missed") == 1
    assert change(during, after, "reader_cache_retirements_total", result="sent") == 0
    assert value(closed, "reader_cache_breaker_open") == 0


def test_retirements_sent_after_a_write(api, book):
    before = here()
    assert api.patch(f"/api/v1/books/{book.pk}/", {"title": "Sent"}, format="json").status_code == 200
    after = here()
    assert change(before, after, "reader_cache_retirements_total", result="sent") >= 1
    assert change(before, after, "reader_cache_retirements_total", result="missed") == 0


def test_relay_catch_ups_and_epoch_bumps():
    relay = response_cache.relay
    relay.check()  # learn Redis' run_id
    before = here()
    assert relay.check() is False  # nothing missed: a check, no bump
    InvalidationLog.record_miss()
    relay.pending = True
    assert relay.check() is True  # a missed invalidation: every answer retired
    response_cache.run(lambda client: client.set(response_cache.name(SERVER_KEY), "a Redis that restarted"))
    assert relay.check() is True
    after = here()

    assert change(before, after, "reader_cache_relay_catch_ups_total", trigger="check") == 2
    assert change(before, after, "reader_cache_relay_catch_ups_total", trigger="failure") == 1
    assert change(before, after, "reader_cache_epoch_bumps_total", reason="missed") == 1
    assert change(before, after, "reader_cache_epoch_bumps_total", reason="restart") == 1


def test_lease_waits_answered_and_timed_out(api, book, settings):
    read, params = cached.BOOK, {"book_id": book.pk}
    url = f"/api/v1/books/{book.pk}/"
    settings.REDIS_CACHE_LEASE_WAIT_SECONDS = 0.05
    before = here()

    assert response_cache.take_lease(read, params)  # someone else computes, and never finishes
    assert api.get(url)["X-Cache"] == "MISS"
    timed_out = here()

    response_cache.drop_lease(read, params)
    assert response_cache.take_lease(read, params)  # someone else computes, and stores in 0.1 s
    settings.REDIS_CACHE_LEASE_WAIT_SECONDS = 5

    def store_it():
        response_cache.warm([(read, params, compute(read, params))])
        connections.close_all()  # this thread's own

    holder = threading.Timer(0.1, store_it)
    holder.start()  # the holder stores its answer while the request waits
    started = time.monotonic()
    assert api.get(url)["X-Cache"] == "HIT"
    holder.join()
    answered = here()

    assert time.monotonic() - started < 5
    assert change(before, timed_out, "reader_cache_lease_waits_total", read="book", result="timed_out") == 1
    assert change(timed_out, answered, "reader_cache_lease_waits_total", read="book", result="answered") == 1


# --- what other parts of the project call -----------------------------------------------


def test_warm_jobs_and_throttles_are_counted():
    before = here()
    metrics.warm_job("queued")
    metrics.warm_job("running")
    metrics.warm_job("done")
    metrics.throttled("read")
    metrics.throttled("read")
    metrics.throttled("auth")
    after = here()
    for state, amount in {"queued": 1, "running": 1, "done": 1, "failed": 0}.items():
        assert change(before, after, "reader_cache_warm_jobs_total", state=state) == amount
    assert change(before, after, "reader_throttled_requests_total", scope="read") == 2
    assert change(before, after, "reader_throttled_requests_total", scope="auth") == 1
    with pytest.raises(ValueError, match="Unknown warm job state"):
        metrics.warm_job("exploded")


def test_separate_processes_add_up_in_multiprocess_mode(tmp_path):
    """A Celery worker and a web worker: two processes, one shared directory, one sum; read
    here through serve(), the plain HTTP exporter a worker without Django views can run.

    The module needs no Django settings, so any process can import it.
    """
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prometheus")
    count = "from cacheadmin import metrics; metrics.warm_job('done'); metrics.cached_read('book', 'HIT', 0.002)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], cwd=ROOT, env=env, check=True)
    scrape_it = (
        "import sys, urllib.request; from cacheadmin import metrics\n"
        "server, _ = metrics.serve(0)\n"
        "with urllib.request.urlopen(f'http://127.0.0.1:{server.server_port}/metrics', timeout=30) as answer:\n"
        "    sys.stdout.write(answer.read().decode())\n"
    )
    text = subprocess.run(
        [sys.executable, "-c", scrape_it], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout

    samples = parse(text)
    assert value(samples, "reader_cache_warm_jobs_total", state="done") == 2
    assert value(samples, READS, read="book", outcome="HIT") == 2
    assert value(samples, f"{SECONDS}_bucket", read="book", outcome="HIT", le="0.0025") == 2
    assert len(list((tmp_path / "prometheus").glob("counter_*.db"))) == 3  # one per process
