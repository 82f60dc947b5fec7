"""Warm jobs: cacheadmin.operations.warm run by a Celery worker, followed in the database.

start_warm() (the API, the admin panel, the Book action) checks that Redis answers,
records a queued WarmJob and enqueues it once that row is committed, so the worker
always finds it. The worker's task (cacheadmin.tasks.warm) calls run(): it claims the
job, runs operations.warm and writes the job's progress (at most every
PROGRESS_SECONDS), a heartbeat (from a thread of its own, every
WARM_JOB_HEARTBEAT_SECONDS, also while one large book takes long) and the result.

A worker that dies mid-job leaves its job "running" with a heartbeat that stops; the
next look at the jobs (status(), recent()) reports it failed once the heartbeat is
WARM_JOB_STALE_SECONDS old. Its message, acknowledged only when a job ends
(CELERY_TASK_ACKS_LATE), comes back after the broker's visibility timeout; a failed or
finished job is never run again, and a running one whose heartbeat is fresh is left to
its worker, so a message delivered twice runs the job once.
"""

import logging
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from cacheadmin import audit, metrics, operations
from cacheadmin.cache import CacheUnavailable, response_cache
from cacheadmin.models import WarmJob

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 0.5  # progress is written at most this often
KEEP_DAYS = 30  # finished jobs older than this are deleted when a new one starts
STALE_MESSAGE = "The worker running this job stopped (no sign of life for {seconds} s). Warm again."
QUEUE_MESSAGE = "The task queue is unreachable, so the warm job could not be started. Try again shortly."

State = WarmJob.State


class QueueUnavailable(Exception):
    """The broker did not take the job."""


# --- starting ---------------------------------------------------------------------


def start_warm(book_ids=None, all_books=False, user=None):
    """A queued WarmJob for these books (or all books), enqueued after commit.

    CacheUnavailable while Redis is unreachable (nothing is recorded), QueueUnavailable
    when the broker refuses the job (the job is recorded as failed). Inside an outer
    transaction the job is enqueued when that transaction commits.
    """
    operations.check_warm_target(book_ids, all_books)
    if not response_cache.available():
        raise CacheUnavailable
    _forget_old_jobs()
    with transaction.atomic():
        job = WarmJob.objects.create(
            all_books=bool(all_books),
            book_ids=sorted({int(book_id) for book_id in book_ids or ()}),
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        transaction.on_commit(lambda: enqueue(job))
    metrics.warm_job("queued")
    if job.state == State.FAILED:
        raise QueueUnavailable(job.error)
    return job


def enqueue(job, queue=None):
    """Hand the job to the task queue (queue: a queue other than the default one)."""
    from cacheadmin import tasks

    options = {"queue": queue} if queue else {}
    try:
        tasks.warm.apply_async((str(job.pk),), **options)
    except Exception:  # kombu's OperationalError, a refused or timed-out connection…
        log.exception("Could not enqueue warm job %s", job.pk)
        job.state, job.error, job.finished_at = State.FAILED, QUEUE_MESSAGE, timezone.now()
        WarmJob.objects.filter(pk=job.pk).update(state=job.state, error=job.error, finished_at=job.finished_at)


def _forget_old_jobs():
    cutoff = timezone.now() - timedelta(days=KEEP_DAYS)
    WarmJob.objects.filter(created_at__lt=cutoff, state__in=[State.DONE, State.FAILED]).delete()


# --- running (in the worker) --------------------------------------------------------


def run(job_id):
    """Run the job if it still needs running; the task's whole body."""
    job = _claim(job_id)
    if job is None:
        return
    heartbeat = _Heartbeat(job.pk)
    heartbeat.start()
    progress = _Progress(job.pk)
    try:
        result = operations.warm(book_ids=job.book_ids or None, all_books=job.all_books, progress=progress)
    except CacheUnavailable:
        _finish(job.pk, State.FAILED, progress, error=operations.unavailable_message())
    except Exception as error:
        log.exception("Warm job %s failed", job.pk)
        _finish(job.pk, State.FAILED, progress, error=f"{type(error).__name__}: {error}")
    else:
        _finish(job.pk, State.DONE, progress, keys=result.keys, already=result.already, missing=result.missing)
    finally:
        heartbeat.stop()


def _claim(job_id):
    """The job, now running here; None if it is finished, unknown, or alive on another worker."""
    job_id = _job_uuid(job_id)
    if job_id is None:
        return None
    now = timezone.now()
    stale = Q(state=State.RUNNING, heartbeat_at__lt=now - timedelta(seconds=settings.WARM_JOB_STALE_SECONDS))
    claimed = (
        WarmJob.objects.filter(pk=job_id)
        .filter(Q(state=State.QUEUED) | stale)
        .update(state=State.RUNNING, started_at=now, heartbeat_at=now, books_done=0, error="")
    )
    if not claimed:
        return None
    metrics.warm_job("running")
    return WarmJob.objects.get(pk=job_id)


def _finish(job_id, state, progress, **fields):
    now = timezone.now()
    WarmJob.objects.filter(pk=job_id).update(
        state=state,
        books_total=progress.total,
        books_done=progress.done,
        finished_at=now,
        heartbeat_at=now,
        **fields,
    )
    metrics.warm_job(state)
    job = WarmJob.objects.filter(pk=job_id).first()
    if job is not None:
        audit.warm_ended(job)


class _Progress:
    """operations.warm's progress(done, total): written to the job at most every PROGRESS_SECONDS."""

    def __init__(self, job_id):
        self.job_id = job_id
        self.done, self.total = 0, None
        self._written_at = None

    def __call__(self, done, total):
        self.done, self.total = done, total
        now = time.monotonic()
        if self._written_at is not None and now - self._written_at < PROGRESS_SECONDS:
            return
        self._written_at = now
        WarmJob.objects.filter(pk=self.job_id).update(books_done=done, books_total=total, heartbeat_at=timezone.now())


class _Heartbeat(threading.Thread):
    """Marks the job alive every WARM_JOB_HEARTBEAT_SECONDS while it runs (own DB connection)."""

    def __init__(self, job_id):
        super().__init__(name=f"warm-heartbeat-{job_id}", daemon=True)
        self.job_id = job_id
        self._finished = threading.Event()

    def run(self):
        try:
            while not self._finished.wait(settings.WARM_JOB_HEARTBEAT_SECONDS):
                try:
                    WarmJob.objects.filter(pk=self.job_id, state=State.RUNNING).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    log.warning("Warm job %s: could not write its heartbeat", self.job_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections

    def stop(self):
        self._finished.set()
        self.join(10)


# --- looking at jobs ----------------------------------------------------------------


def fail_stale_jobs():
    """Jobs 'running' on a worker that stopped giving signs of life are failed; how many."""
    seconds = settings.WARM_JOB_STALE_SECONDS
    now = timezone.now()
    return WarmJob.objects.filter(state=State.RUNNING, heartbeat_at__lt=now - timedelta(seconds=seconds)).update(
        state=State.FAILED, error=STALE_MESSAGE.format(seconds=seconds), finished_at=now
    )


def find(job_id):
    """The job (its state up to date), or None for an unknown or malformed id."""
    job_id = _job_uuid(job_id)
    if job_id is None:
        return None
    fail_stale_jobs()
    return WarmJob.objects.filter(pk=job_id).first()


def _job_uuid(job_id):
    try:
        return uuid.UUID(str(job_id))
    except ValueError:
        return None


def recent(limit=5):
    fail_stale_jobs()
    return list(WarmJob.objects.order_by("-created_at")[:limit])


def as_dict(job):
    """The job as `GET admin/cache/jobs/{job}/` answers it."""
    return {
        "job": str(job.pk),
        "state": job.state,
        "books_total": job.books_total,
        "books_done": job.books_done,
        "keys": job.keys,
        "error": job.error or None,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }
