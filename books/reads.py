"""The cached reads of books: each builds from the database what its view serves.

The views and cacheadmin's warm-up call the same builders (see cacheadmin.keys for
keys and TTLs). A builder raises NotFound for what does not exist; whether the caller
may read it is checked by the cache layer on every answer, from `owner`/`visibility`.
"""

from urllib.parse import urlencode

from django.urls import reverse

from books import selectors, serializers
from cacheadmin.responses import Built
from reader.selectors import progress_of
from reader.serializers import ProgressSerializer


def _book_access(book):
    return {"owner": book.owner_id, "visibility": book.visibility}


def book_list(user_id, shelf, offset, limit):
    books = selectors.books_for(user_id, shelf)
    count = books.count()
    page = books[offset : offset + limit]
    return Built(
        {
            "count": count,
            "next": _page_link(shelf, offset + limit, limit) if offset + limit < count else None,
            "previous": _page_link(shelf, max(offset - limit, 0), limit) if offset > 0 else None,
            "results": serializers.BookListItemSerializer(page, many=True).data,
        }
    )


def _page_link(shelf, offset, limit):
    # Root-relative, so one stored answer serves every host name the API is reached by.
    query = {"limit": limit, "offset": offset}
    if shelf != "all":
        query["shelf"] = shelf
    return f"{reverse('book-list')}?{urlencode(query)}"


def book(book_id):
    book = selectors.get_book(book_id)
    return Built(serializers.BookSerializer(book).data, **_book_access(book))


def chapter_list(book_id):
    book = selectors.get_book(book_id)
    chapters = selectors.chapters_of(book_id)
    return Built(serializers.ChapterSummarySerializer(chapters, many=True).data, **_book_access(book))


def chapter(book_id, number):
    chapter = selectors.get_chapter(book_id, number)
    data = serializers.ChapterSerializer(chapter).data
    return Built(data, next=data["next"], **_book_access(chapter.book))


def descriptions(book_id, kind, chapter):
    book = selectors.get_book(book_id)
    found = selectors.descriptions_of(
        book_id, kind=None if kind == "any" else kind, chapter=None if chapter == "any" else int(chapter)
    )
    return Built(serializers.DescriptionSerializer(found, many=True).data, **_book_access(book))


def progress(user_id, book_id):
    book = selectors.get_book(book_id)
    return Built(ProgressSerializer(progress_of(user_id, book)).data, **_book_access(book))


def toc(book_id):
    book = selectors.get_book(book_id)
    return Built(selectors.toc_of(book_id), **_book_access(book))
