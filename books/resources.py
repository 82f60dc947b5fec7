"""The book's pictures: what their bytes are, and the signed URLs that load them without credentials.

A chapter stores each picture as its plain URL, ``/api/v1/books/{id}/resources/{path}``
(which loads with the reader's token). ``sign_urls`` adds ``?s=<signature>`` to each of
them when the chapter is *read* (books.serializers.ChapterSerializer), so a plain
``<img>`` loads it with no Authorization header or cookie.

Why at read time, and why bucketed by day: a chapter may be served from the response
cache for up to the static TTL after it was built, and its URLs must still work 24 hours
after *that* read. The signature covers the book id, the path and a timestamp rounded
down to the start of the UTC day, and is accepted for ``2 days + REDIS_CACHE_DEFAULT_TTL``
after that timestamp: a chapter built at any moment of day D (bucket start B) and read
from the cache up to TTL later carries URLs valid until B + 2 days + TTL, which is at
least 24 hours after the read. Within a day every build writes the same URLs, so the
cached answer, its ETag and the browser's copy of each picture stay stable. Nothing
signed is stored, so rotating SECRET_KEY (or a book turning private) needs no rewrite of
the stored chapters; old URLs simply stop working once they expire.
"""

import re
import time
from urllib.parse import unquote

from django.conf import settings
from django.core import signing

from books.links import API_ROOT

RASTER_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
SVG_TYPE = "image/svg+xml"
DAY = 24 * 60 * 60
_SALT = "books.resources"


def image_type(data):
    """The media type of a JPEG, PNG, GIF or WebP image, from its first bytes; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class _DaySigner(signing.TimestampSigner):
    """A TimestampSigner whose timestamps are the start of the current UTC day."""

    def timestamp(self):
        return signing.b62_encode(int(time.time()) // DAY * DAY)


def _signer():
    return _DaySigner(salt=_SALT)  # SECRET_KEY as it is now (tests may change it)


def max_age():
    """How long a signature is accepted after its (day-rounded) timestamp."""
    return 2 * DAY + settings.REDIS_CACHE_DEFAULT_TTL


def signature(book_id, path):
    value = f"{book_id}/{path}"
    return _signer().sign(value)[len(value) + 1 :]


def is_signed(book_id, path, token):
    """Whether ``token`` is a current signature of this book's picture at ``path``."""
    if not token:
        return False
    try:
        _signer().unsign(f"{book_id}/{path}:{token}", max_age=max_age())
    except signing.BadSignature:  # SignatureExpired included
        return False
    return True


def sign_urls(book_id, content):
    """Chapter content as served: each of this book's picture URLs with the current signature."""
    prefix = f"{API_ROOT}books/{book_id}/resources/"
    if prefix not in content:
        return content
    pattern = re.compile(r' (?:src|href)="' + re.escape(prefix) + r'([^"?#]+)(?=")')
    signed = {}

    def sign(match):
        url = match.group(0)
        if url not in signed:
            signed[url] = f"{url}?s={signature(book_id, unquote(match.group(1)))}"
        return signed[url]

    return pattern.sub(sign, content)
