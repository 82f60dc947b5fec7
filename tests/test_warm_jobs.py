"""Warm jobs on real Celery workers: failures, a worker killed mid-job, a dead broker, a huge book."""

import random
import time

import pytest
from django.db import transaction

from books.models import Book, Chapter, Visibility
from cacheadmin import jobs
from cacheadmin.cache import LEASE_SECONDS
from cacheadmin.models import WarmJob
from config.celery import app
from tests import cacheadmin_support as support
from tests.celery_worker import CeleryWorker, wait_for_job, wait_until_finished
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

WARM = "/api/v1/admin/cache/warm/"
JOBS = "/api/v1/admin/cache/jobs/"
PANEL = "/admin/cacheadmin/cachepanel/"
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def staff_api(staff):
    return client_for(staff)


@pytest.fixture
def own_workers(tmp_path):
    """Start workers of this test's own, each on a queue nobody else consumes."""
    started = []

    def start(name, **env):
        worker = CeleryWorker(tmp_path / f"{name}.log", queue=f"{app.conf.task_default_queue}-{name}", **env)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
        worker.forget_queue()


def big_book(owner, chapters, visibility=Visibility.PRIVATE):
    """A book of many short chapters, written with bulk_create (the API would take minutes)."""
    book = Book.objects.create(owner=owner, title=f"{chapters} chapters", visibility=visibility)
    rows = (Chapter(book=book, number=n, title=f"Chapter {n}", content=f"<p>Text {n}.</p>", word_count=2)
            for n in range(1, chapters + 1))  # fmt: skip
    Chapter.objects.bulk_create(rows, batch_size=2000)
    Book.objects.filter(pk=book.pk).update(chapter_count=chapters, word_count=2 * chapters)
    book.refresh_from_db()
    return book


def queued_job(*book_ids):
    """A job recorded like start_warm records one, not yet enqueued."""
    return WarmJob.objects.create(book_ids=sorted(book_ids))


def wait_for_state(job, states, timeout=60):
    deadline = time.monotonic() + timeout
    while WarmJob.objects.get(pk=job.pk).state not in states:
        assert time.monotonic() < deadline, f"job never reached {states}"
        time.sleep(0.02)


# --- a job that fails -----------------------------------------------------------------


def test_a_job_whose_worker_cannot_reach_redis_fails_with_the_reason(staff_api, admin_client, user, own_workers):
    book = support.book_with_content(user)
    worker = own_workers("no-redis", TEST_REDIS_URL=support.DEAD_REDIS)
    job = queued_job(book.pk)
    jobs.enqueue(job, queue=worker.queue)

    status = wait_for_job(staff_api, f"{JOBS}{job.pk}/")
    assert status["state"] == "failed"
    assert "unreachable" in status["error"]
    assert status["finished_at"] and status["keys"] == 0
    assert support.response_keys() == set()
    page = admin_client.get(f"{PANEL}jobs/{job.pk}/").content.decode()
    assert 'id="job-state"><span class="unavailable">failed</span><' in page
    assert 'id="job-error">Redis is unreachable' in page


@pytest.fixture
def admin_client(staff, client):
    client.force_login(staff)
    return client


# --- a worker that dies mid-job -------------------------------------------------------


def test_a_long_book_keeps_its_job_alive_and_never_looks_stale(staff_api, user, celery_worker, settings):
    book = big_book(user, chapters=2000)
    settings.WARM_JOB_STALE_SECONDS = 3  # the worker writes a heartbeat every 0.5 s (settings_test)
    job = staff_api.post(WARM, {"books": [book.pk]}, format="json").json()["job"]
    wait_for_state(WarmJob(pk=job), {WarmJob.State.RUNNING})

    beats, deadline = set(), time.monotonic() + 300
    while (status := staff_api.get(f"{JOBS}{job}/").json())["state"] == "running":
        assert time.monotonic() < deadline
        row = WarmJob.objects.get(pk=job)
        if row.books_done == 0:  # no progress to write within the one book: only the heartbeat thread
            beats.add(row.heartbeat_at)
        time.sleep(0.2)
    assert status["state"] == "done", status  # never reported stale while its worker lived
    assert len(beats) >= 4  # the claim and the first progress write give 2 at most; the thread the rest


def kill_mid_job(worker, job):
    wait_for_state(job, {WarmJob.State.RUNNING})
    time.sleep(0.3)
    worker.kill()
    assert WarmJob.objects.get(pk=job.pk).state == WarmJob.State.RUNNING


def test_a_job_whose_worker_died_is_reported_failed_and_never_run_again(staff_api, user, own_workers, settings):
    book = big_book(user, chapters=1500)
    first = own_workers("dies")
    job = queued_job(book.pk)
    jobs.enqueue(job, queue=first.queue)
    kill_mid_job(first, job)

    settings.WARM_JOB_STALE_SECONDS = 1
    time.sleep(1.2)
    status = staff_api.get(f"{JOBS}{job.pk}/").json()
    assert status["state"] == "failed"
    assert "stopped" in status["error"]
    assert status["books_done"] == 0 and status["finished_at"]

    # The unacknowledged message comes back (here after 1 s); a failed job is not run again.
    second = own_workers("dies", CELERY_VISIBILITY_TIMEOUT="1", WARM_JOB_STALE_SECONDS="1")
    deadline = time.monotonic() + 30
    while "succeeded" not in second.log():
        assert time.monotonic() < deadline, second.log()
        time.sleep(0.05)
    assert "cacheadmin.warm[" in second.log()
    assert WarmJob.objects.get(pk=job.pk).state == WarmJob.State.FAILED
    assert f"book:{book.pk}:chapter:1500" not in support.response_keys()


def test_a_job_whose_worker_died_is_taken_over_when_its_message_comes_back(api, user, own_workers):
    book = big_book(user, chapters=1500)
    first = own_workers("taken-over")
    job = queued_job(book.pk)
    jobs.enqueue(job, queue=first.queue)
    kill_mid_job(first, job)
    # Past the visibility timeout and the stale limit below (1 s), and past the lease the dead
    # worker held on the answer it was computing (a warm leaves an answer under lease alone).
    time.sleep(LEASE_SECONDS + 0.5)

    own_workers("taken-over", CELERY_VISIBILITY_TIMEOUT="1", WARM_JOB_STALE_SECONDS="1")
    job = wait_until_finished(job.pk, timeout=180)
    assert (job.state, job.books_done, job.error) == ("done", 1, "")
    assert 0 < job.keys <= len(support.book_response_keys(book))  # what the first worker stored is not redone
    assert support.book_response_keys(book) <= support.response_keys()
    for number in (1, 750, 1500):
        assert api.get(f"/api/v1/books/{book.pk}/chapters/{number}/")["X-Cache"] == "HIT"


# --- the broker ---------------------------------------------------------------------


@pytest.fixture
def broker_down():
    """This process's Celery app publishes to a port where no Redis listens."""
    real = app.conf.broker_url

    def point_at(url):
        app.conf.broker_url = url
        app._pool = None  # Celery's own reset after a fork: new connections on next use
        app.amqp._producer_pool = None

    point_at(DEAD_BROKER)
    yield
    point_at(real)


def test_warm_answers_503_when_the_task_queue_is_unreachable(staff_api, admin_client, user, broker_down):
    book = support.book_with_content(user)
    started = time.monotonic()
    response = staff_api.post(WARM, {"books": [book.pk]}, format="json")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert "task queue is unreachable" in response.json()["detail"]
    job = WarmJob.objects.get()
    assert job.state == WarmJob.State.FAILED and job.finished_at and "task queue" in job.error

    page = admin_client.post(f"{PANEL}warm/", {"books": str(book.pk)}, follow=True).content.decode()
    assert "task queue is unreachable" in page


def test_a_job_is_enqueued_only_when_its_transaction_commits(user, celery_worker):
    book = support.book_with_content(user)
    with transaction.atomic():
        job = jobs.start_warm(book_ids=[book.pk])
        time.sleep(1)  # a worker that got the message now would not find the row
        assert WarmJob.objects.get(pk=job.pk).state == WarmJob.State.QUEUED
    assert wait_until_finished(job.pk).state == WarmJob.State.DONE


# --- a 15,000-chapter book ------------------------------------------------------------

HUGE = 15_000


@pytest.mark.slow
def test_warming_a_15000_chapter_book_answers_at_once_and_finishes(staff_api, api, user, celery_worker):
    book = big_book(user, chapters=HUGE)

    started = time.monotonic()
    response = staff_api.post(WARM, {"books": [book.pk]}, format="json")
    answered = time.monotonic() - started
    assert response.status_code == 202
    status = staff_api.get(response.json()["status_url"]).json()
    assert status["state"] in {"queued", "running"}, status  # the request did not wait for the work
    assert answered < 2

    status = wait_for_job(staff_api, response.json()["status_url"], timeout=900)
    took = time.monotonic() - started
    assert status["state"] == "done", status
    assert (status["books_total"], status["books_done"], status["keys"]) == (
        1,
        1,
        HUGE + 4,
    )  # its chapters, the book, the chapter list, descriptions, table of contents
    print(f"\n15,000-chapter warm: request {answered * 1000:.0f} ms, job {took:.1f} s, "
          f"{took / HUGE * 1000:.2f} ms per chapter")  # fmt: skip

    numbers = [1, HUGE // 2, HUGE, *random.sample(range(2, HUGE), 20)]
    for number in numbers:
        read = api.get(f"/api/v1/books/{book.pk}/chapters/{number}/")
        assert read.status_code == 200
        assert read["X-Cache"] == "HIT", number
    for url in (f"/api/v1/books/{book.pk}/", f"/api/v1/books/{book.pk}/chapters/"):
        assert api.get(url)["X-Cache"] == "HIT", url
