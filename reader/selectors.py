from reader.models import ReadingProgress


def progress_of(user_id, book):
    """The user's progress on the book; an unsaved default before the first update."""
    found = ReadingProgress.objects.filter(user_id=user_id, book=book).first()
    return found or ReadingProgress(user_id=user_id, book=book, updated_at=None)
