"""Who may administer the response cache: staff holding a permission of its own.

``cacheadmin.manage_cache`` clears and warms (and shows the statistics);
``cacheadmin.view_cache_stats`` only shows the statistics. Superusers hold both; other
staff get them through a group (or their own permissions). Being staff is not enough.
"""

from rest_framework.permissions import BasePermission

MANAGE_CACHE = "cacheadmin.manage_cache"
VIEW_CACHE_STATS = "cacheadmin.view_cache_stats"


def _staff(user):
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def can_manage_cache(user):
    return _staff(user) and user.has_perm(MANAGE_CACHE)


def can_view_cache_stats(user):
    return _staff(user) and (user.has_perm(VIEW_CACHE_STATS) or user.has_perm(MANAGE_CACHE))


class ManagesCache(BasePermission):
    """DRF: 401 without credentials (DRF's rule), 403 signed in without the permission."""

    def has_permission(self, request, view):
        return can_manage_cache(request.user)


class ViewsCacheStats(BasePermission):
    def has_permission(self, request, view):
        return can_view_cache_stats(request.user)
