"""Writes to books, chapters and descriptions. Views and commands call these."""

import mimetypes
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from books import epub
from books.models import Book, Chapter, Description, FileFormat, Visibility


@dataclass(frozen=True)
class ChapterInput:
    title: str
    content: str


@transaction.atomic
def create_book(
    owner,
    *,
    title,
    chapters,
    author="",
    language="en",
    description="",
    genre="",
    visibility=Visibility.PRIVATE,
    file_format=FileFormat.JSON,
    source=None,
    cover=None,
):
    """Create a book with its chapters (a list of ChapterInput, HTML content).

    `source` is an uploaded file kept as the book's file; `cover` is an epub.Cover.
    """
    book = Book(
        owner=owner,
        title=title,
        author=author,
        language=language or "en",
        description=description,
        genre=genre,
        visibility=visibility,
        file_format=file_format,
    )
    if source is not None:
        source.seek(0)
        book.file.save("upload.epub", source, save=False)
        book.file_size = book.file.size
    if cover is not None:
        _set_cover(book, cover)
    book.save()
    rows = []
    for number, chapter in enumerate(chapters, start=1):
        row = Chapter(book=book, number=number, title=chapter.title[:500])
        row.set_content(chapter.content)
        rows.append(row)
    Chapter.objects.bulk_create(rows)
    refresh_counts(book)
    return book


def import_epub(owner, upload, *, visibility=Visibility.PRIVATE, title=None):
    """Import an EPUB file object; raises epub.EpubError for anything unreadable."""
    parsed = epub.parse_epub(upload)
    return create_book(
        owner,
        title=(title or parsed.title or "Untitled")[:500],
        author=parsed.author[:500],
        language=parsed.language[:35],
        description=parsed.description,
        visibility=visibility,
        chapters=[ChapterInput(c.title, c.content) for c in parsed.chapters],
        file_format=FileFormat.EPUB,
        source=upload,
        cover=parsed.cover,
    )


def _set_cover(book, cover):
    # Named by its media type: the EPUB's own file name may have no extension.
    extension = mimetypes.guess_extension(cover.content_type) or ".img"
    book.cover.save(f"cover{extension}", ContentFile(cover.data), save=False)
    book.cover_etag = cover.etag
    book.cover_updated_at = timezone.now()


def update_book(book, **fields):
    for name, value in fields.items():
        setattr(book, name, value)
    book.save()
    return book


def delete_book(book):
    # Files go with the row: see books.signals.
    book.delete()


def refresh_counts(book_or_id):
    """Recompute a book's chapter and word counts from its chapters: the one place they are kept."""
    book = book_or_id if isinstance(book_or_id, Book) else Book.objects.filter(pk=book_or_id).first()
    if book is None:
        return
    totals = Chapter.objects.filter(book_id=book.pk).aggregate(n=Count("id"), words=Sum("word_count"))
    counts = (totals["n"], totals["words"] or 0)
    if (book.chapter_count, book.word_count) == counts:
        return  # a retitled chapter leaves the book (and every list showing it) as it was
    book.chapter_count, book.word_count = counts
    book.save(update_fields=["chapter_count", "word_count", "updated_at"])


@transaction.atomic
def update_chapter(chapter, *, title=None, content=None):
    if title is not None:
        chapter.title = title
    if content is not None:
        chapter.set_content(content)
    chapter.save()
    return chapter


def create_description(book, *, chapter, kind, text):
    """A description of the book's chapter numbered `chapter`."""
    return Description.objects.create(book=book, chapter=book.chapters.get(number=chapter), kind=kind, text=text)


def delete_description(description):
    description.delete()
