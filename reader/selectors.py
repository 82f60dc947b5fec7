from django.utils.cache import parse_etags

from cacheadmin.responses import Built
from reader.models import ReadingProgress
from reader.serializers import ProgressSerializer


def progress_of(user_id, book):
    """The user's progress on the book; an unsaved default before the first update."""
    found = ReadingProgress.objects.filter(user_id=user_id, book=book).first()
    return found or ReadingProgress(user_id=user_id, book=book, updated_at=None)


def progress_etag(progress):
    """The ETag the progress read answers with for this progress: the cached read's own rule
    (cacheadmin.responses.Built renders the same serializer's data and hashes the body)."""
    return Built(ProgressSerializer(progress).data).render()[1]["etag"]


def etag_matches(if_match, etag):
    """If-Match against the current ETag. `*` matches; a W/ prefix (added by some proxies that
    compress) is ignored, so a client that read through one is not refused every write."""
    candidates = parse_etags(if_match)
    return "*" in candidates or etag.removeprefix("W/") in {c.removeprefix("W/") for c in candidates}
