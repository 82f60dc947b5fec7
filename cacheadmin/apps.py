from django.apps import AppConfig


class CacheAdminConfig(AppConfig):
    name = "cacheadmin"
    verbose_name = "Cache"

    def ready(self):
        from cacheadmin import auth

        auth.declare()  # the API token cache: a read and its retirements of its own
