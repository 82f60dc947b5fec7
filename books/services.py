"""Writes to books, chapters and descriptions. Views and commands call these."""

import mimetypes
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from rest_framework.exceptions import NotFound

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
    book.chapter_count = len(rows)
    book.word_count = sum(row.word_count for row in rows)
    book.save(update_fields=["chapter_count", "word_count", "updated_at"])
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


def hold_book(book_id):
    """Keep the book from being deleted until this transaction ends; NotFound if it is gone already.

    Every write that changes a book or adds rows to it holds the book first, so a concurrent delete
    waits for the write (or the write answers 404) instead of the write failing on a foreign key
    (a 500) or saving a deleted row back. PostgreSQL's FOR KEY SHARE: writers of one book do not wait
    for each other, only a delete waits (delete_book locks the row before its cascade, so the two
    always take their locks in the same order).
    """
    table, pk = (connection.ops.quote_name(name) for name in (Book._meta.db_table, Book._meta.pk.column))
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE {pk} = %s{lock}", [book_id])
        if cursor.fetchone() is None:
            raise NotFound


@transaction.atomic
def update_book(book, **fields):
    hold_book(book.pk)
    for name, value in fields.items():
        setattr(book, name, value)
    book.save()
    return book


@transaction.atomic
def delete_book(book):
    # Locked before the cascade deletes its rows: writers holding it (hold_book) finish first.
    list(Book.objects.select_for_update().filter(pk=book.pk).values_list("pk", flat=True))
    # Files go with the row: see books.signals.
    book.delete()


def refresh_counts(book_id):
    """Recompute a book's chapter and word counts from its chapters."""
    totals = Chapter.objects.filter(book_id=book_id).aggregate(n=Count("id"), words=Sum("word_count"))
    book = Book.objects.filter(pk=book_id).first()
    counts = (totals["n"], totals["words"] or 0)
    if book is None or (book.chapter_count, book.word_count) == counts:
        return  # a retitled chapter leaves the book (and every list showing it) as it was
    book.chapter_count, book.word_count = counts
    book.save(update_fields=["chapter_count", "word_count", "updated_at"])


@transaction.atomic
def update_chapter(chapter, *, title=None, content=None):
    hold_book(chapter.book_id)
    if not Chapter.objects.select_for_update().filter(pk=chapter.pk).values_list("pk", flat=True):
        raise NotFound  # deleted on its own meanwhile: never saved back
    if title is not None:
        chapter.title = title
    if content is not None:
        chapter.set_content(content)
    chapter.save()
    return chapter


@transaction.atomic
def create_description(book, *, chapter, kind, text):
    hold_book(book.pk)
    return Description.objects.create(book=book, chapter=chapter, kind=kind, text=text)


def delete_description(description):
    description.delete()
