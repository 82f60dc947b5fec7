import hashlib
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from books.text import count_words, reading_time_minutes, sanitize_html


class Visibility(models.TextChoices):
    PRIVATE = "private"
    PUBLIC = "public"


class FileFormat(models.TextChoices):
    EPUB = "epub"
    JSON = "json"


class DescriptionKind(models.TextChoices):
    LOCATION = "location"
    CHARACTER = "character"
    ATMOSPHERE = "atmosphere"
    OBJECT = "object"
    ACTION = "action"


def book_file_path(book, filename):
    return f"books/{book.owner_id}/{uuid.uuid4().hex}.epub"


def resource_file_path(resource, filename):
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "img"
    return f"resources/{resource.book_id}/{uuid.uuid4().hex}.{suffix}"


def cover_file_path(book, filename):
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "img"
    return f"covers/{book.owner_id}/{uuid.uuid4().hex}.{suffix}"


def readable_by(owner_id, visibility, user_id):
    """The access rule of every read: the owner reads a book, every user reads a public one.

    BookQuerySet.readable_by is the same rule in SQL; Book.readable_by applies it to a row.
    """
    return visibility == Visibility.PUBLIC or owner_id == user_id


class BookQuerySet(models.QuerySet):
    def readable_by(self, user_id):
        return self.filter(models.Q(owner_id=user_id) | models.Q(visibility=Visibility.PUBLIC))


class Book(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="books")
    title = models.CharField(max_length=500)
    # `author` is `authors` joined by ", " (books.services keeps them in step).
    author = models.CharField(max_length=500, blank=True)
    authors = models.JSONField(default=list, blank=True)
    # [{"name", "role"}], role a MARC relator code ("trl", "edt", ...; "ctb" when unknown)
    contributors = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=35, blank=True, default="en")
    genre = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    file = models.FileField(upload_to=book_file_path, blank=True)
    file_format = models.CharField(max_length=10, choices=FileFormat.choices, default=FileFormat.JSON)
    file_size = models.PositiveBigIntegerField(default=0)
    cover = models.FileField(upload_to=cover_file_path, blank=True)
    cover_etag = models.CharField(max_length=64, blank=True)
    cover_updated_at = models.DateTimeField(null=True, blank=True)
    # Kept in step with the chapters by books.services.refresh_counts.
    chapter_count = models.PositiveIntegerField(default=0)
    word_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BookQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="book_owner_newest"),
            models.Index(fields=["visibility", "-created_at", "-id"], name="book_visibility_newest"),
        ]

    def __str__(self):
        return self.title

    @property
    def has_cover(self):
        return bool(self.cover)

    def set_author(self, author):
        """`author` shows the authors joined; set as one name, it is the one author."""
        self.author = author
        self.authors = [author] if author else []

    def readable_by(self, user_id):
        return readable_by(self.owner_id, self.visibility, user_id)

    def refresh_cover_facts(self):
        """The cover's ETag and date, after a new cover file was set (or the cover removed)."""
        digest = hashlib.sha256()
        for chunk in self.cover.chunks() if self.cover else ():
            digest.update(chunk)
        self.cover_etag = digest.hexdigest() if self.cover else ""
        self.cover_updated_at = timezone.now() if self.cover else None


class Chapter(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="chapters")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=500, blank=True)
    content = models.TextField(blank=True)
    word_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["book", "number"]
        constraints = [
            models.UniqueConstraint(fields=["book", "number"], name="chapter_unique_number"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="chapter_number_positive"),
        ]

    def __str__(self):
        return f"{self.book_id}#{self.number} {self.title}"

    def set_content(self, html, links=None):
        """Every way in (JSON, API edit, admin) stores sanitised HTML and its count.

        ``links`` (books.links) says where links and pictures may point; EPUB chapters
        arrive sanitised already and use ``set_sanitised``.
        """
        self.set_sanitised(sanitize_html(html, links))

    def set_sanitised(self, content):
        self.content = content
        self.word_count = count_words(content)

    @property
    def reading_time_minutes(self):
        return reading_time_minutes(self.word_count)


class Description(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="descriptions")
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="descriptions")
    kind = models.CharField(max_length=20, choices=DescriptionKind.choices)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chapter__number", "id"]
        indexes = [models.Index(fields=["book", "kind"], name="description_book_kind")]

    def __str__(self):
        return f"{self.kind}: {self.text[:40]}"

    def clean(self):
        if self.book_id and self.chapter_id and self.chapter.book_id != self.book_id:
            raise ValidationError({"chapter": "This chapter belongs to another book."})


class TableOfContents(models.Model):
    """An EPUB's own table of contents, resolved to chapters: [{"title", "chapter", "fragment", "children"}].

    Kept apart from Book so that no book query loads it. A book without one (JSON books,
    EPUBs without navigation) has one entry per chapter, computed when read.
    """

    book = models.OneToOneField(Book, on_delete=models.CASCADE, primary_key=True, related_name="table_of_contents")
    entries = models.JSONField(default=list)

    def __str__(self):
        return f"Contents of {self.book_id}"


class Resource(models.Model):
    """A picture of an EPUB (JPEG, PNG, GIF, WebP checked by its bytes; SVG sanitised), by its path in the EPUB."""

    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="resources")
    path = models.CharField(max_length=500)  # longer paths are not kept (see books.services)
    file = models.FileField(upload_to=resource_file_path)
    media_type = models.CharField(max_length=100)
    etag = models.CharField(max_length=64)  # sha256 of the stored bytes
    size = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["book", "path"]
        constraints = [models.UniqueConstraint(fields=["book", "path"], name="resource_unique_path")]

    def __str__(self):
        return f"{self.book_id}:{self.path}"
