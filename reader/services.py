from django.db import transaction

from books.models import Chapter
from books.services import hold_book
from reader.models import ReadingProgress


@transaction.atomic
def save_progress(user, book, *, chapter, position, cfi="", percent=None):
    hold_book(book.pk)  # a book deleted meanwhile answers 404, not a foreign-key error
    if percent is None:
        percent = percent_read(book, chapter, position)
    progress, _ = ReadingProgress.objects.update_or_create(
        user=user,
        book=book,
        defaults={"chapter": chapter, "position": position, "cfi": cfi, "percent": percent},
    )
    return progress


def percent_read(book, chapter, position):
    """How far into the book, weighted by the chapters' word counts (numbers may have gaps)."""
    chapters = list(Chapter.objects.filter(book=book).order_by("number").values_list("number", "word_count"))
    numbers = [number for number, _ in chapters]
    if chapter not in numbers:
        return 0.0
    total = sum(words for _, words in chapters)
    if total == 0:
        return round(100.0 * (numbers.index(chapter) + position) / len(chapters), 2)
    done = sum(words for number, words in chapters if number < chapter)
    done += position * dict(chapters)[chapter]
    return round(100.0 * done / total, 2)
