"""The Celery app of reader: background jobs (cache warming) on a Redis broker.

Its settings are Django's, under the ``CELERY_`` namespace (config.settings); tasks live
in each app's ``tasks.py``. Start a worker with ``celery -A config worker`` (``make run``
starts one beside gunicorn, docker-compose.yml has a ``worker`` service).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("reader")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
