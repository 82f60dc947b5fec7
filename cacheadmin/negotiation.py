"""DRF's content negotiation: a format asked for by name wins over Accept, and a short cut
for the Accept headers API clients send."""

from rest_framework.negotiation import DefaultContentNegotiation

from cacheadmin.auth import http_request, query_of

PLAIN_ACCEPT = frozenset({"*/*", "application/json"})


class ContentNegotiation(DefaultContentNegotiation):
    """DefaultContentNegotiation, with two differences.

    A format asked for by name (`?format=json`, or a format suffix) is served whatever
    Accept says (docs/API.md: `?format=json` forces JSON), where DRF answers `406` to
    `?format=json` with `Accept: text/html`. An unknown format is still DRF's `404`.

    Without one, an Accept header of `application/json` or `*/*` (or none) is answered at
    once: DRF would pick the first renderer that produces JSON (or the first renderer for
    `*/*`); the parse of the header is skipped, nothing else changes. Every other request
    is negotiated by DRF itself.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        meta = http_request(request).META
        asked = format_suffix or query_of(request).get(self.settings.URL_FORMAT_OVERRIDE)
        if asked:
            named = [renderer for renderer in renderers if renderer.format == asked]
            if named:
                return named[0], named[0].media_type
            return super().select_renderer(request, renderers, format_suffix)
        accept = meta.get("HTTP_ACCEPT", "*/*")
        if accept in PLAIN_ACCEPT:
            first = renderers[0]
            if accept == "application/json" and first.media_type != "application/json":
                return super().select_renderer(request, renderers, format_suffix)
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
