from django.contrib.admin.apps import AdminConfig


class ReaderAdminConfig(AdminConfig):
    """django.contrib.admin, whose default site throttles its sign-in (reader.admin_site)."""

    default_site = "reader.admin_site.ReaderAdminSite"
