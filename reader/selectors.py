from cacheadmin.registry import Built
from cacheadmin.responses import etag_matches, render
from reader.models import ReadingProgress
from reader.serializers import ProgressSerializer


def progress_of(user_id, book):
    """The user's progress on the book; an unsaved default before the first update."""
    found = ReadingProgress.objects.filter(user_id=user_id, book=book).first()
    return found or ReadingProgress(user_id=user_id, book=book, updated_at=None)


def progress_etag(progress):
    """The ETag the progress read answers with for this progress: the cached read's own rule
    (cacheadmin.responses.render of the same serializer's data)."""
    return render(Built(ProgressSerializer(progress).data))[1]["etag"]


__all__ = ["etag_matches", "progress_etag", "progress_of"]
