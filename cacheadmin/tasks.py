"""Celery tasks of the cache administration (the worker: `celery -A config worker`)."""

from celery import shared_task

from cacheadmin import jobs


@shared_task(name="cacheadmin.warm")
def warm(job_id):
    """Run one warm job (cacheadmin.jobs.run); its progress and result go to its WarmJob row."""
    jobs.run(job_id)
