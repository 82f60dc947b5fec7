"""The builders of the books' cached reads: each builds from the database what its view serves.

Declared in books.cached (keys, generations, TTLs). A builder raises NotFound for what
does not exist; whether the caller may read it is checked on every answer, hits
included, from the `owner`/`visibility` in its meta (books.cached.may_read).
"""

from urllib.parse import urlencode

from django.urls import reverse

from books import selectors, serializers
from cacheadmin.registry import Built


def access_meta(book):
    return {"owner": book.owner_id, "visibility": book.visibility}


def book_list(user_id, shelf, offset, limit):
    books = selectors.books_for(user_id, shelf)
    count = books.count()
    page = books[offset : offset + limit]
    data = {
        "count": count,
        "next": _page_link(shelf, offset + limit, limit) if offset + limit < count else None,
        "previous": _page_link(shelf, max(offset - limit, 0), limit) if offset > 0 else None,
        "results": serializers.BookListItemSerializer(page, many=True).data,
    }
    # A page past the end is answered, not stored: offsets cannot fill Redis.
    return Built(data, store=offset == 0 or offset < count)


def _page_link(shelf, offset, limit):
    # Root-relative, so one stored answer serves every host name the API is reached by.
    query = {"limit": limit, "offset": offset}
    if shelf != "all":
        query["shelf"] = shelf
    return f"{reverse('book-list')}?{urlencode(query)}"


def book(book_id):
    book = selectors.get_book(book_id)
    return Built(serializers.BookSerializer(book).data, access_meta(book))


def chapter_list(book_id):
    book = selectors.get_book(book_id)
    chapters = selectors.chapters_of(book_id)
    return Built(serializers.ChapterSummarySerializer(chapters, many=True).data, access_meta(book))


def chapter(book_id, number):
    chapter = selectors.get_chapter(book_id, number)
    data = serializers.ChapterSerializer(chapter).data
    return Built(data, {**access_meta(chapter.book), "next": data["next"]})


def descriptions(book_id, kind=None, chapter=None):
    """The book's descriptions, filtered; a chapter filter that names no chapter of the
    book is answered (an empty list) but not stored, so filters cannot fill Redis."""
    book = selectors.get_book(book_id)
    found = serializers.DescriptionSerializer(selectors.descriptions_of(book_id, kind, chapter), many=True).data
    real_filter = chapter is None or bool(found) or selectors.chapter_exists(book_id, chapter)
    return Built(found, access_meta(book), store=real_filter)


def toc(book_id):
    book = selectors.get_book(book_id)
    return Built(selectors.toc_of(book_id), access_meta(book))
