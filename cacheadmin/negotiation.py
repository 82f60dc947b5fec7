"""DRF's content negotiation with a short cut for the Accept headers API clients send."""

from rest_framework.negotiation import DefaultContentNegotiation

from cacheadmin.auth import http_request

PLAIN_ACCEPT = frozenset({"*/*", "application/json"})


class ContentNegotiation(DefaultContentNegotiation):
    """DefaultContentNegotiation, answered at once when the outcome cannot differ.

    With no format override and an Accept header of `application/json` or `*/*` (or none),
    DRF would pick the first renderer that produces JSON (or the first renderer for
    `*/*`): the parse of the header is skipped, nothing else changes. Every other
    request is negotiated by DRF itself.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        meta = http_request(request).META
        accept = meta.get("HTTP_ACCEPT", "*/*")
        if accept in PLAIN_ACCEPT and not format_suffix and not self._format_override(request, meta):
            first = renderers[0]
            if accept == "application/json" and first.media_type != "application/json":
                return super().select_renderer(request, renderers, format_suffix)
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)

    def _format_override(self, request, meta):
        """A ?format= override (request.GET is parsed only when there is a query string)."""
        return bool(meta.get("QUERY_STRING")) and self.settings.URL_FORMAT_OVERRIDE in request.GET
