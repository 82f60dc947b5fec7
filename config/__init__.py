# The Celery app is loaded with Django, so tasks and `transaction.on_commit` enqueues find it.
from config.celery import app as celery_app

__all__ = ("celery_app",)
