"""Error answers: JSON for the API, HTML for pages under the Django admin (API.md, "Errors")."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from rest_framework.renderers import JSONRenderer
from rest_framework.views import exception_handler


def admin_prefix():
    try:
        return reverse("admin:index")
    except NoReverseMatch:
        return None


def is_admin_page(request):
    """True for pages of the Django admin: they answer errors as HTML pages."""
    prefix = admin_prefix()
    return prefix is not None and request.path.startswith(prefix)


def error_response(request, status, detail, headers=None):
    """{"detail": …} for the API; a small HTML page under the admin."""
    if is_admin_page(request):
        html = render_to_string("http_error.html", {"status": status, "detail": detail}, request=request)
        response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    else:
        response = JsonResponse({"detail": detail}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def body_too_large(request, limit_bytes):
    detail = f"The request body is larger than this endpoint accepts ({describe(limit_bytes)})."
    return error_response(request, 413, detail)


def describe(limit_bytes):
    if limit_bytes >= 1024 * 1024 and limit_bytes % (1024 * 1024) == 0:
        return f"{limit_bytes // (1024 * 1024)} MB at most"
    return f"{limit_bytes // 1024} KB at most"


def api_exception_handler(exc, context):
    """DRF's handler, plus Django's RequestDataTooBig as a 413 (never a 400 with a traceback).

    Every error of the API is JSON (docs/API.md), also for a browser whose Accept asked for
    the browsable API's HTML: the error is rendered by the JSON renderer."""
    request = context["request"]
    if isinstance(exc, RequestDataTooBig):
        return body_too_large(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    response = exception_handler(exc, context)
    if response is not None and getattr(request, "accepted_renderer", None) is not None:
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
    return response
