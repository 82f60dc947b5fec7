from django.apps import AppConfig


class CacheAdminConfig(AppConfig):
    name = "cacheadmin"
    verbose_name = "Cache"

    def ready(self):
        from . import signals  # noqa: F401  (connects the invalidation receivers)
