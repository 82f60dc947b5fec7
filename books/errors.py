"""Django's own error pages: JSON like DRF's errors, HTML pages under the admin (config.urls wires them)."""

from django.http import JsonResponse
from django.views import defaults

from cacheadmin.errors import is_admin_page


def not_found(request, exception=None):
    if is_admin_page(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    if is_admin_page(request):
        return defaults.server_error(request)
    return JsonResponse({"detail": "Server error."}, status=500)


def bad_request(request, exception=None):
    if is_admin_page(request):
        return defaults.bad_request(request, exception)
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, exception=None):
    if is_admin_page(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
