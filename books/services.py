"""Writes to books, chapters and descriptions. Views and commands call these."""

import hashlib
import mimetypes
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from rest_framework.exceptions import NotFound

from books import epub, memory, selectors
from books.links import ContentLinks
from books.models import Book, Chapter, Description, FileFormat, Resource, TableOfContents, Visibility
from books.text import sanitize_html


@dataclass(frozen=True)
class ChapterInput:
    title: str
    content: str


# Chapters are inserted in batches of about this much content (one large chapter alone).
_BATCH_BYTES = 4 * 1024 * 1024
_BATCH_ROWS = 200
# Longer paths inside an EPUB are not kept as pictures (the unique index must stay small).
_MAX_PICTURE_PATH = 500


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
):
    """Create a book from chapters sent as HTML (a list of ChapterInput)."""
    book = Book(
        owner=owner,
        title=title,
        author=author,
        authors=[author] if author else [],
        language=language or "en",
        description=description,
        genre=genre,
        visibility=visibility,
        file_format=FileFormat.JSON,
    )
    book.save()
    links = ContentLinks(book.pk, chapters=range(1, len(chapters) + 1))
    _write_chapters(book, (ChapterInput(c.title, sanitize_html(c.content, links)) for c in chapters))
    return book


def import_epub(owner, upload, *, visibility=Visibility.PRIVATE, title=None):
    """Import an EPUB file object, one chapter at a time; raises epub.EpubError for anything unreadable.

    The EPUB is checked and planned (limits included) before anything is stored; files
    stored before a later failure are removed again.
    """
    with epub.EpubBook(upload) as source:
        memory.release()  # what planning parsed, before the chapters are read again
        stored = []
        try:
            return _import(owner, upload, source, visibility, title, stored)
        except BaseException:
            for name in stored:
                default_storage.delete(name)
            raise
        finally:
            memory.release()


@transaction.atomic
def _import(owner, upload, source, visibility, title, stored):
    metadata = source.metadata
    book = Book(
        owner=owner,
        title=(title or metadata.title or "Untitled")[:500],
        author=metadata.author[:500],
        authors=list(metadata.authors),
        contributors=[{"name": person.name, "role": person.role} for person in metadata.contributors],
        language=metadata.language[:35],
        description=metadata.description,
        visibility=visibility,
        file_format=FileFormat.EPUB,
    )
    upload.seek(0)
    book.file.save("upload.epub", upload, save=False)
    stored.append(book.file.name)
    book.file_size = book.file.size
    if source.cover is not None:
        _set_cover(book, source.cover)
        stored.append(book.cover.name)
    book.save()
    pictures = _store_pictures(book, source.pictures(), stored)
    _write_chapters(book, source.chapters(book.pk, pictures))
    toc = source.toc()
    if toc:
        TableOfContents.objects.create(book=book, entries=toc)
    return book


def _store_pictures(book, pictures, stored):
    rows = []
    for picture in pictures:
        if len(picture.path) > _MAX_PICTURE_PATH:
            continue
        row = Resource(
            book=book,
            path=picture.path,
            media_type=picture.media_type,
            etag=hashlib.sha256(picture.data).hexdigest(),
            size=len(picture.data),
        )
        extension = mimetypes.guess_extension(picture.media_type) or ".img"
        row.file.save(f"picture{extension}", ContentFile(picture.data), save=False)
        stored.append(row.file.name)
        rows.append(row)
        del picture
    Resource.objects.bulk_create(rows)
    return {row.path for row in rows}


def _write_chapters(book, chapters):
    """Insert chapters (title, sanitised content) numbered from 1, holding few of them at a time."""
    batch, batch_bytes = [], 0
    for number, chapter in enumerate(chapters, start=1):
        row = Chapter(book=book, number=number, title=chapter.title[:500])
        row.set_sanitised(chapter.content)
        del chapter  # the row holds the content now; let it go with the batch
        batch.append(row)
        batch_bytes += len(row.content)
        del row
        if batch_bytes >= _BATCH_BYTES or len(batch) >= _BATCH_ROWS:
            Chapter.objects.bulk_create(batch)
            batch = []
            memory.release_after(batch_bytes)
            batch_bytes = 0
    if batch:
        Chapter.objects.bulk_create(batch)
    refresh_counts(book)


def _set_cover(book, cover):
    # Named by its media type: the EPUB's own file name may have no extension.
    extension = mimetypes.guess_extension(cover.content_type) or ".img"
    book.cover.save(f"cover{extension}", ContentFile(cover.data), save=False)
    book.cover_etag = cover.etag
    book.cover_updated_at = timezone.now()


def links_for_book(book_id):
    """Where the links and pictures of HTML sent for one of this book's chapters may point."""
    return ContentLinks(book_id, chapters=selectors.chapter_numbers(book_id), pictures=selectors.picture_paths(book_id))


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
    if "author" in fields:
        book.set_author(fields.pop("author"))
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
    hold_book(chapter.book_id)
    if not Chapter.objects.select_for_update().filter(pk=chapter.pk).values_list("pk", flat=True):
        raise NotFound  # deleted on its own meanwhile: never saved back
    if title is not None:
        chapter.title = title
    if content is not None:
        chapter.set_content(content, links_for_book(chapter.book_id))
    chapter.save()
    return chapter


@transaction.atomic
def create_description(book, *, chapter, kind, text):
    """A description of the book's chapter numbered `chapter`."""
    hold_book(book.pk)
    return Description.objects.create(book=book, chapter=book.chapters.get(number=chapter), kind=kind, text=text)


def delete_description(description):
    description.delete()
