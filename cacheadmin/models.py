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
