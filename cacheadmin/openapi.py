"""The OpenAPI schema's shared pieces (drf-spectacular): error bodies, implied statuses, cached reads' headers.

`AutoSchema` (settings: DEFAULT_SCHEMA_CLASS) adds to every operation the statuses that DRF and this
project make it answer, derived from the view, so a view declares only its own bodies and the statuses
that are its own business (201, 202, 412, 503, …):

=====  ===========================================================================================
400    the operation takes a body or query parameters: ``{"detail"}`` or a field map (``BAD_REQUEST``)
401    the view authenticates (no credentials where they are needed, or an unknown token anywhere)
403    a permission beyond "signed in", or a change (unsafe method) under session authentication
404    the path has parameters: no such object, or one the caller may not read
413    the operation takes a body over its limit
414    the operation takes query parameters: the request line may be over the server's limit (gunicorn answers)
415    the operation takes a body, sent in a media type it does not parse
429    the view has throttles (``Retry-After``)
=====  ===========================================================================================

An operation that answers 400 for another reason (a path parameter it validates) declares
``400: BAD_REQUEST`` itself. A cached read (a GET of a `CachedReadMixin` view) also gets
``If-None-Match``, ``304`` and the ``ETag`` and ``X-Cache`` headers. Request bodies are documented
as JSON only (the contract's media type) unless a view names its media types itself, as the EPUB
upload does for multipart.
"""

import uritemplate
from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")


class ErrorDetailSerializer(serializers.Serializer):
    """Every error that is not about particular fields: DRF's `{"detail": "…"}`."""

    detail = serializers.CharField()


FIELD_ERRORS = {
    "type": "object",
    "description": (
        'Invalid fields, each with its messages: `{"title": ["This field is required."]}`; '
        "`non_field_errors` for the body as a whole; nested fields nest (a list of chapters answers "
        "a list with one map per chapter)."
    ),
    "additionalProperties": {"anyOf": [{"type": "array", "items": {}}, {"type": "object"}]},
}


BAD_REQUEST = OpenApiResponse(
    {"anyOf": [{"$ref": "#/components/schemas/ErrorDetail"}, {"$ref": "#/components/schemas/FieldErrors"}]},
    description='Invalid input: a field map, or `{"detail"}` for a body that cannot be parsed.',
)


def error(description):
    """A response whose body is `{"detail"}`, e.g. `503: error("Redis is unreachable.")`."""
    return OpenApiResponse(ErrorDetailSerializer, description=description)


def header(name, codes, description, *, required=True, type=str, **schema):
    """A response header of the given status codes."""
    return OpenApiParameter(
        name, type, OpenApiParameter.HEADER, required=required, description=description, response=codes, **schema
    )


def integer(**bounds):
    """An integer parameter's schema with bounds and a default: `integer(minimum=1, default=20)`."""
    return {"type": "integer", **bounds}


IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="An ETag of an earlier answer (weak comparison, `*` matches any): `304` if it is still current.",
)
NOT_MODIFIED = OpenApiResponse(description="Not modified: the `If-None-Match` ETag is current. No body.")
ETAG = header("ETag", [200, 304], "The answer's entity tag, for `If-None-Match`.")
X_CACHE = header(
    "X-Cache",
    [200, 304],
    "`HIT` from Redis, `MISS` computed (and stored), `BYPASS` computed while the cache is off or unreachable.",
    enum=["HIT", "MISS", "BYPASS"],
)
CACHED_READ_PARAMETERS = [IF_NONE_MATCH, ETAG, X_CACHE]

IMPLIED_DESCRIPTIONS = {  # 400 and 304 have their own bodies: see AutoSchema._implied_responses
    401: "No credentials where they are needed, or an unknown token.",
    403: (
        "Signed in but not allowed: not the owner of what is changed, without the permission the operation "
        "needs, or a session request without its CSRF token."
    ),
    404: "Not found: no such object, or one the caller may not read (never `403` for those).",
    413: "The body is over its limit (`BOOK_MAX_UPLOAD_MB` for uploads, `API_MAX_BODY_KB` for the others).",
    415: "The body is in a media type this operation does not take.",
    429: "Too many requests: `Retry-After` says how many seconds to wait.",
}
URI_TOO_LONG = OpenApiResponse(
    description="URI too long: the request line is over the server's limit (gunicorn's `limit_request_line`)."
)
IMPLIED_HEADERS = [
    header("WWW-Authenticate", [401], "The scheme to authenticate with: `Bearer`."),
    header("Retry-After", [429], "Seconds to wait before trying again.", required=False, type=int),
]


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, with the statuses and headers every view implies (module docstring)."""

    def get_description(self):
        # Only what an operation declares (extend_schema): view docstrings are written for developers.
        return ""

    def map_parsers(self):
        media_types = super().map_parsers()
        return [media_type for media_type in media_types if "json" in media_type] or media_types

    def get_override_parameters(self):
        parameters = [*super().get_override_parameters(), *IMPLIED_HEADERS]
        if self._is_cached_read():
            parameters += [p for p in CACHED_READ_PARAMETERS if p.name not in {q.name for q in parameters}]
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        implied = self._implied_responses()
        for code, response in implied.items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(response, str(code), direction=direction)
        if "400" in responses:
            self._register_error_components()  # BAD_REQUEST refers to them
        return dict(sorted(responses.items()))

    def _is_cached_read(self):
        from cacheadmin.responses import CachedReadMixin

        return self.method == "GET" and isinstance(self.view, CachedReadMixin)

    def _implied_responses(self):
        codes = set()
        takes_body = self.method in BODY_METHODS and self._get_request_body() is not None
        takes_query = any(p["in"] == "query" for p in self._get_parameters())
        authenticators = self.view.get_authenticators()
        permission_classes = {type(p) for p in self.view.get_permissions()}
        if takes_body or takes_query:
            codes.add(400)
        if authenticators:
            codes.add(401)
        session = any(isinstance(a, SessionAuthentication) for a in authenticators)
        if permission_classes - {permissions.AllowAny, permissions.IsAuthenticated} or (
            session and self.method in UNSAFE_METHODS
        ):
            codes.add(403)
        if uritemplate.variables(self.path):
            codes.add(404)
        if takes_body:
            codes.update({413, 415})
        if self.view.get_throttles():
            codes.add(429)
        if self._is_cached_read():
            codes.add(304)
        responses = {code: error(IMPLIED_DESCRIPTIONS[code]) for code in codes if code in IMPLIED_DESCRIPTIONS}
        if 400 in codes:
            responses[400] = BAD_REQUEST
        if takes_query:  # gunicorn's own answer (an HTML page) to a request line over its limit
            responses[414] = URI_TOO_LONG
        if 304 in codes:
            responses[304] = NOT_MODIFIED
        return responses

    def _register_error_components(self):
        self.resolve_serializer(ErrorDetailSerializer(), "response")
        self.registry.register_on_missing(
            ResolvedComponent(
                name="FieldErrors", type=ResolvedComponent.SCHEMA, object="FieldErrors", schema=FIELD_ERRORS
            )
        )


def require_every_answered_field(result, generator, request, public):
    """Postprocessing hook: a serializer's answer always has every field, so each is `required`.

    drf-spectacular marks optional-on-input fields (defaults, blank) optional everywhere; in answers they
    are always present. Components reached from request bodies are left alone.
    """
    schemas = result.get("components", {}).get("schemas", {})

    def refs(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/components/schemas/"):
                yield node["$ref"].rsplit("/", 1)[-1]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    def reachable(roots):
        seen, todo = set(), list(roots)
        while todo:
            name = todo.pop()
            if name not in seen and name in schemas:
                seen.add(name)
                todo.extend(refs(schemas[name]))
        return seen

    operations = [op for item in result.get("paths", {}).values() for op in item.values() if isinstance(op, dict)]
    answered = reachable(name for op in operations for name in refs(op.get("responses", {})))
    sent = reachable(name for op in operations for name in refs(op.get("requestBody", {})))
    for name in answered - sent:
        properties = schemas[name].get("properties")
        if properties:
            schemas[name]["required"] = sorted(properties)
    return result
