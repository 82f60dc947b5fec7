"""The size limits of a book (settings BOOK_MAX_CHAPTERS and CHAPTER_MAX_MB), and how they are worded.

They hold for EPUB uploads (books.epub, measured on each document of the spine as
stored in the EPUB) and for JSON books and chapter edits (books.serializers, measured
on the HTML sent, UTF-8 encoded). Beyond them the request answers 400 with a message
naming the setting; nothing is ever dropped to fit.
"""

from django.conf import settings


def max_chapters():
    return settings.BOOK_MAX_CHAPTERS


def chapter_max_bytes():
    return int(settings.CHAPTER_MAX_MB * 1024 * 1024)


def too_many_chapters(what):
    return f"{what} has more than {max_chapters()} chapters, the most a book may have (BOOK_MAX_CHAPTERS)."


def chapter_too_large_message(what):
    return f"{what} is larger than {settings.CHAPTER_MAX_MB} MB, the most a chapter may hold (CHAPTER_MAX_MB)."


def chapter_too_large(html):
    """Whether HTML sent for one chapter is over CHAPTER_MAX_MB (without encoding small ones)."""
    limit = chapter_max_bytes()
    if len(html) * 4 <= limit:  # at most 4 bytes a character in UTF-8
        return False
    return len(html) > limit or len(html.encode("utf-8", "surrogatepass")) > limit
