import uuid

from django.conf import settings
from django.db import IntegrityError, models, transaction


class InvalidationLog(models.Model):
    """Counts invalidations that could not reach Redis.

    Every process compares this counter with the one last applied in Redis and, when
    the database is ahead, retires every cached answer (see cacheadmin.cache.Relay).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    missed = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "cache invalidation log"

    def __str__(self):
        return f"{self.missed} missed invalidations"

    @classmethod
    def record_miss(cls):
        if cls.objects.filter(pk=1).update(missed=models.F("missed") + 1):
            return
        try:
            with transaction.atomic():
                cls.objects.create(pk=1, missed=1)
        except IntegrityError:
            cls.objects.filter(pk=1).update(missed=models.F("missed") + 1)

    @classmethod
    def missed_count(cls):
        return cls.objects.filter(pk=1).values_list("missed", flat=True).first() or 0


class CachePanel(models.Model):
    """No table: the Django admin's "Response cache" entry (see cacheadmin.admin).

    The admin index lists registered models only, so the cache panel is registered as
    this unmanaged model; its admin serves the dashboard and never queries the table.
    """

    class Meta:
        managed = False
        default_permissions = ()
        # Cache administration needs these (cacheadmin.permissions), not just being staff.
        permissions = [
            ("manage_cache", "Can clear and warm the response cache"),
            ("view_cache_stats", "Can view the response cache's statistics"),
        ]
        verbose_name = "response cache"
        verbose_name_plural = "response cache"

    def __str__(self):
        return "response cache"


class WarmJob(models.Model):
    """One warm of chosen books (or of all books), run by a Celery worker (cacheadmin.jobs)."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    all_books = models.BooleanField(default=False)
    book_ids = models.JSONField(default=list, blank=True)
    books_total = models.PositiveIntegerField(null=True, blank=True)  # known once the job starts
    books_done = models.PositiveIntegerField(default=0)
    keys = models.PositiveIntegerField(default=0)  # answers computed and written
    already = models.PositiveIntegerField(default=0)  # answers that were cached and still valid
    missing = models.JSONField(default=list, blank=True)  # asked-for ids that do not exist
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # the worker's last sign of life

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "cache warm job"

    def __str__(self):
        return f"warm {self.target()} ({self.state})"

    @property
    def finished(self):
        return self.state in {self.State.DONE, self.State.FAILED}

    @property
    def percent(self):
        if self.state == self.State.DONE:
            return 100
        if not self.books_total:
            return 0
        return min(100, int(100 * self.books_done / self.books_total))

    def target(self):
        """'all books', 'book(s) 3, 7' or, for many, '250 books'."""
        if self.all_books:
            return "all books"
        if len(self.book_ids) > 10:
            return f"{len(self.book_ids)} books"
        return "book(s) " + ", ".join(map(str, self.book_ids))
