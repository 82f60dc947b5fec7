"""GET /metrics: the Prometheus scrape, for staff with the cache permission.

Prometheus authenticates like any API client, with a staff user's token
(`authorization: {credentials: <token>}` in its scrape config; see README, "Metrics").
Anonymous: 401; signed in without the permission: 403.
"""

from django.http import HttpResponse
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from cacheadmin import metrics
from cacheadmin.permissions import can_view_cache_stats
from cacheadmin.registry import registry


def may_read_metrics(user):
    """The one rule for who may scrape /metrics: whoever may see the cache statistics."""
    return can_view_cache_stats(user)


class MayReadMetrics(BasePermission):
    def has_permission(self, request, view):
        return may_read_metrics(request.user)


class AnyAccept(BaseContentNegotiation):
    """The scrape is always the text format and an error always JSON, whatever Accept says
    (`Accept: text/plain` must not answer 406)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MetricsView(APIView):
    permission_classes = [MayReadMetrics]
    renderer_classes = [JSONRenderer]  # errors only: the scrape itself is a plain HttpResponse
    content_negotiation_class = AnyAccept
    throttle_classes = []  # a scraper every few seconds is not abuse, and must never see a 429
    schema = None  # not part of the JSON API's OpenAPI schema

    def get(self, request):
        metrics.declare_reads(read.name for read in registry.response_reads())
        return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
