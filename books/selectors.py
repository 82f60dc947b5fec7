"""Queries behind the books API."""

from django.db.models import Max, Min, Prefetch, Q
from rest_framework.exceptions import NotFound

from books.models import Book, Chapter, Description, Resource, TableOfContents, Visibility
from reader.models import ReadingProgress

SHELVES = ("all", "mine", "public")
DEFAULT_LIMIT = 20  # books per page of the list
MAX_LIMIT = 100
MAX_CHAPTER = 2**31 - 1  # the largest chapter number the database stores


def books_for(user_id, shelf="all"):
    """The books a user may read, newest first, each with the user's own progress."""
    books = Book.objects.all()
    if shelf == "mine":
        books = books.filter(owner_id=user_id)
    elif shelf == "public":
        books = books.filter(visibility=Visibility.PUBLIC)
    else:
        books = books.readable_by(user_id)
    mine = ReadingProgress.objects.filter(user_id=user_id)
    return books.order_by("-created_at", "-id").prefetch_related(
        Prefetch("progress", queryset=mine, to_attr="my_progress")
    )


def get_book(book_id):
    book = Book.objects.filter(pk=book_id).first()
    if book is None:
        raise NotFound
    return book


def get_readable_book(user_id, book_id):
    """The book, or 404 when it does not exist or the user may not read it."""
    book = get_book(book_id)
    if not book.readable_by(user_id):
        raise NotFound
    return book


def get_chapter(book_id, number):
    chapter = Chapter.objects.select_related("book").filter(book_id=book_id, number=number).first()
    if chapter is None:
        raise NotFound
    return chapter


def chapter_exists(book_id, number):
    return Chapter.objects.filter(book_id=book_id, number=number).exists()


def neighbours(book_id, number):
    """The numbers of the chapters before and after this one (None at the ends): numbers may have gaps."""
    around = Chapter.objects.filter(book_id=book_id).aggregate(
        previous=Max("number", filter=Q(number__lt=number)), next=Min("number", filter=Q(number__gt=number))
    )
    return around["previous"], around["next"]


def chapters_of(book_id):
    return Chapter.objects.filter(book_id=book_id).only("number", "title", "word_count").order_by("number")


def descriptions_of(book_id, kind=None, chapter=None):
    descriptions = Description.objects.filter(book_id=book_id).select_related("chapter")
    if kind:
        descriptions = descriptions.filter(kind=kind)
    if chapter:
        descriptions = descriptions.filter(chapter__number=chapter)
    return descriptions.order_by("chapter__number", "id")


def chapter_numbers(book_id):
    return set(Chapter.objects.filter(book_id=book_id).values_list("number", flat=True))


def picture_paths(book_id):
    return set(Resource.objects.filter(book_id=book_id).values_list("path", flat=True))


def get_resource(book_id, path):
    resource = Resource.objects.filter(book_id=book_id, path=path).first()
    if resource is None:
        raise NotFound
    return resource


def toc_of(book_id):
    """The book's table of contents: its own (entries whose chapter is gone move up), else one entry per chapter."""
    stored = TableOfContents.objects.filter(book_id=book_id).values_list("entries", flat=True).first()
    if not stored:
        return [
            {"title": chapter.title, "chapter": chapter.number, "fragment": "", "children": []}
            for chapter in chapters_of(book_id)
        ]
    return _existing(stored, chapter_numbers(book_id))


def _existing(entries, numbers):
    kept = []
    for entry in entries:
        children = _existing(entry["children"], numbers)
        if entry["chapter"] in numbers:
            kept.append({**entry, "children": children})
        else:
            kept.extend(children)
    return kept
