from books.models import Chapter
from reader.models import ReadingProgress


def save_progress(user, book, *, chapter, position, cfi="", percent=None):
    if percent is None:
        percent = percent_read(book, chapter, position)
    progress, _ = ReadingProgress.objects.update_or_create(
        user=user,
        book=book,
        defaults={"chapter": chapter, "position": position, "cfi": cfi, "percent": percent},
    )
    return progress


def percent_read(book, chapter, position):
    """How far into the book, weighted by the chapters' word counts."""
    counts = list(Chapter.objects.filter(book=book).order_by("number").values_list("word_count", flat=True))
    total = sum(counts)
    if not counts:
        return 0.0
    if total == 0:
        return round(100.0 * (chapter - 1 + position) / len(counts), 2)
    done = sum(counts[: chapter - 1]) + position * counts[chapter - 1]
    return round(100.0 * done / total, 2)
