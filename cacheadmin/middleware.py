"""HTTP protections of every request: body limits (413) and the Content-Security-Policy of HTML pages;
and Django's message storage made only for the requests that use it."""

import io
import time

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import LimitedStream
from django.utils.functional import SimpleLazyObject, empty

from cacheadmin import errors

READ_CHUNK = 64 * 1024
# A refused body is still read (and thrown away) up to here, so the client, still sending,
# receives its 413 rather than a reset connection; beyond, the connection is simply closed.
DRAIN_MAX_BYTES = 128 * 1024 * 1024
DRAIN_MAX_SECONDS = 5.0


def upload_limit():
    return settings.BOOK_MAX_UPLOAD_MB * 1024 * 1024


def body_limit():
    return settings.API_MAX_BODY_KB * 1024


def view_class(view_func):
    return getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)


class BodyLimitMiddleware:
    """413 for a body over the limit of its endpoint, before anything reads it.

    The limit is BOOK_MAX_UPLOAD_MB for the methods a view lists in ``upload_methods`` and
    for the Django admin's forms sent by staff (a book file, a cover), API_MAX_BODY_KB for
    everything else. Content-Length decides; a chunked body (no Content-Length) is read up
    to its limit here, so the view sees it like any other, and anything longer is a 413.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        length = request.META.get("CONTENT_LENGTH")
        if length:
            try:
                length = int(length)
            except ValueError:
                return errors.error_response(request, 400, "Content-Length is not a number.")
            limit = self.limit_for(request, view_func)
            if length > limit:
                return self._refuse(request, limit, getattr(request, "_stream", None))
            return None
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return self._read_chunked(request, self.limit_for(request, view_func))
        return None  # no body: no limit to look up

    def process_exception(self, request, exception):
        # Django's own backstop (DATA_UPLOAD_MAX_MEMORY_SIZE), should a body still get that far.
        if isinstance(exception, RequestDataTooBig):
            return errors.body_too_large(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return None

    @staticmethod
    def limit_for(request, view_func):
        if request.method in getattr(view_class(view_func), "upload_methods", ()):
            return upload_limit()
        match = request.resolver_match
        if match is not None and match.app_name == "admin" and request.user.is_active and request.user.is_staff:
            return upload_limit()
        return body_limit()

    def _read_chunked(self, request, limit):
        """The server has removed the chunk framing (gunicorn does: wsgi.input_terminated);
        read up to limit + 1 bytes and hand the body on with its length, or answer 413."""
        environ = getattr(request, "environ", {})
        if not environ.get("wsgi.input_terminated"):
            return errors.error_response(request, 411, "A request body needs a Content-Length header.")
        stream, body, size = environ["wsgi.input"], io.BytesIO(), 0
        while size <= limit:
            chunk = stream.read(min(READ_CHUNK, limit + 1 - size))
            if not chunk:
                break
            body.write(chunk)
            size += len(chunk)
        if size > limit:
            return self._refuse(request, limit, stream)
        body.seek(0)
        request.META["CONTENT_LENGTH"] = str(size)
        request._stream = LimitedStream(body, size)
        return None

    @staticmethod
    def _refuse(request, limit, stream):
        """413, after reading what is left of the body (within bounds) without keeping it."""
        if stream is not None:
            read, deadline = 0, time.monotonic() + DRAIN_MAX_SECONDS
            try:
                while read < DRAIN_MAX_BYTES and time.monotonic() < deadline:
                    chunk = stream.read(READ_CHUNK)
                    if not chunk:
                        break
                    read += len(chunk)
            except OSError:
                pass  # the client went away: nobody is waiting for the answer
        return errors.body_too_large(request, limit)


class ContentSecurityPolicyMiddleware:
    """Sends settings.SECURE_CSP on HTML pages (the admin, the cache panel, the browsable API).

    Django 5.2 has no CSP of its own; the setting has the shape of Django 6's SECURE_CSP, so an
    upgrade can hand it to Django's middleware. A view may widen the policy of its own pages
    with ``csp_sources`` (the Swagger UI page loads its scripts from a CDN).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        if "Content-Security-Policy" in response:
            return response
        response["Content-Security-Policy"] = render_policy(settings.SECURE_CSP, getattr(response, "csp_extra", None))
        return response


def render_policy(policy, extra=None):
    directives = {name: list(sources) for name, sources in policy.items()}
    for name, sources in (extra or {}).items():
        directives.setdefault(name, list(directives.get("default-src", [])))
        directives[name] += [source for source in sources if source not in directives[name]]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def csp_sources(view, **extra):
    """Wrap a view so its HTML pages' policy also allows these sources, e.g.
    csp_sources(view, script_src=["https://cdn.example"])."""
    extra = {name.replace("_", "-"): sources for name, sources in extra.items()}

    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.csp_extra = extra
        return response

    for attribute in ("csrf_exempt", "cls", "view_class", "initkwargs"):
        if hasattr(view, attribute):
            setattr(wrapped, attribute, getattr(view, attribute))
    return wrapped


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware, its storage made on first use.

    The admin's pages use messages; an API request never does, and no longer pays for a
    cookie signer and a session storage it does not touch. A storage never used has nothing
    to save (BaseStorage.update stores only messages used or added), so skipping it changes
    no response.
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
