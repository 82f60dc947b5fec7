"""The books' cached reads and what retires them: declared once, here (see cacheadmin.registry).

Generations:

=======================  ======================================================
``gen:book:{book_id}``   the book, its chapters or descriptions changed
``gen:user:{user_id}``   one of the user's books, their progress, or the user changed
``gen:public``           a public book changed, or a book became or stopped being public
=======================  ======================================================
"""

from rest_framework.exceptions import ValidationError

from books import reads, selectors
from books.models import Book, Chapter, Description, DescriptionKind, TableOfContents, Visibility, readable_by
from cacheadmin.auth import query_of
from cacheadmin.registry import DYNAMIC, STATIC, CachedRead, registry
from cacheadmin.retiring import retire_on

BOOK_GENERATION = "gen:book:{book_id}"
USER_GENERATION = "gen:user:{user_id}"
PUBLIC_GENERATION = "gen:public"
ANY = "any"  # a filter not given, in a key

MAX_OFFSET = 2**31  # far past any shelf, and still a number every database takes


def may_read(meta, user_id):
    return readable_by(meta["owner"], meta["visibility"], user_id)


def book_generation(book_id):
    return BOOK_GENERATION.format(book_id=book_id)


def user_generation(user_id):
    return USER_GENERATION.format(user_id=user_id)


# --- parameters from a request ------------------------------------------------------


def _int(value, default):
    if value is None:  # not given: no exception to raise and catch, on every hit
        return default
    try:
        return int(value)
    except ValueError:
        return default


def book_list_params(request, user_id):
    query = query_of(request)
    shelf = query.get("shelf") or "all"
    if shelf not in selectors.SHELVES:
        raise ValidationError({"shelf": ["Use 'mine' or 'public'."]})
    offset = min(max(_int(query.get("offset", query.get("skip")), 0), 0), MAX_OFFSET)
    limit = _int(query.get("limit"), selectors.DEFAULT_LIMIT)
    limit = selectors.DEFAULT_LIMIT if limit < 1 else min(limit, selectors.MAX_LIMIT)
    return {"user_id": user_id, "shelf": shelf, "offset": offset, "limit": limit}


def description_params(request, user_id, book_id):
    # Checked by hand, not by a serializer: this runs on every hit.
    query = query_of(request)
    kind = query.get("kind") or ANY
    if kind != ANY and kind not in DescriptionKind.values:
        raise ValidationError({"kind": [f"Use one of: {', '.join(DescriptionKind.values)}."]})
    chapter = query.get("chapter") or ANY
    if chapter != ANY:
        if not chapter.isdecimal() or not 1 <= int(chapter) <= selectors.MAX_CHAPTER:
            raise ValidationError({"chapter": ["A chapter number is a whole number from 1."]})
        chapter = int(chapter)
    return {"book_id": book_id, "kind": kind, "chapter": chapter}


def _of_book(request, user_id, book_id):
    return {"book_id": book_id}


def _whole_book(book_id):
    return [{"book_id": book_id}]


def _descriptions(book_id, kind, chapter):
    return reads.descriptions(book_id, None if kind == ANY else kind, None if chapter == ANY else int(chapter))


def _every_chapter(book_id):
    numbers = Chapter.objects.filter(book_id=book_id).order_by("number").values_list("number", flat=True)
    return [{"book_id": book_id, "number": number} for number in numbers]


def _next_chapter(params, meta):
    return {**params, "number": meta["next"]} if meta.get("next") else None


# --- the reads ----------------------------------------------------------------------

BOOK_LIST = CachedRead(
    name="book_list",
    template="user:{user_id}:books:{shelf}:{offset}:{limit}",
    generations=(USER_GENERATION, PUBLIC_GENERATION),
    ttl=DYNAMIC,
    build=reads.book_list,
    params=book_list_params,
)


def book_read(name, template, build, **declared):
    """A read of one book, as readable as the book: retired with it (gen:book:{book_id}), kept
    the static TTL, cleared and warmed per book. `declared` adds or overrides (params, warm,
    prefetch) what a CachedRead declares."""
    of_a_book = {
        "generations": (BOOK_GENERATION,),
        "ttl": STATIC,
        "params": _of_book,
        "scope": "book_id",
        "warm": _whole_book,
        "access": may_read,
    }
    return CachedRead(name=name, template=template, build=build, **(of_a_book | declared))


BOOK = book_read("book", "book:{book_id}:metadata", reads.book)
CHAPTER_LIST = book_read("chapter_list", "book:{book_id}:chapters:list", reads.chapter_list)
CHAPTER = book_read(
    "chapter",
    "book:{book_id}:chapter:{number}",
    reads.chapter,
    params=lambda request, user_id, book_id, number: {"book_id": book_id, "number": number},
    warm=_every_chapter,
    prefetch=_next_chapter,
)
DESCRIPTIONS = book_read(
    "descriptions",
    "book:{book_id}:descriptions:{kind}:{chapter}",
    _descriptions,
    params=description_params,
    warm=lambda book_id: [{"book_id": book_id, "kind": ANY, "chapter": ANY}],
)
TOC = book_read("toc", "book:{book_id}:toc", reads.toc)


# --- what retires them -----------------------------------------------------------------


def _book_rows(rows):
    """A book: its reads, its owners' lists (before and after), every list if it is or was public."""
    for row in rows:
        yield book_generation(row["pk"])
        yield user_generation(row["owner_id"])
        if row["visibility"] == Visibility.PUBLIC:
            yield PUBLIC_GENERATION


def _content_rows(rows):
    """Chapters and descriptions: their book's reads (its counts change through the book)."""
    return {book_generation(row["book_id"]) for row in rows}


def _books(ids=None):
    books = Book.objects.order_by("pk")
    if ids is not None:
        books = books.filter(pk__in=ids)
    return books.values_list("pk", flat=True).iterator()


def declare():
    registry.add_scope("book_id", _books)
    for read in (BOOK_LIST, BOOK, CHAPTER_LIST, CHAPTER, DESCRIPTIONS, TOC):
        registry.add_read(read)
    retire_on(Book, fields=("owner_id", "visibility"), generations=_book_rows)
    retire_on(Chapter, fields=("book_id",), generations=_content_rows)
    retire_on(Description, fields=("book_id",), generations=_content_rows)
    retire_on(TableOfContents, fields=("book_id",), generations=_content_rows)
