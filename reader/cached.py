"""The readers' cached read (their progress) and what retires it (see cacheadmin.registry)."""

from django.contrib.auth import get_user_model

from books import selectors
from books.cached import BOOK_GENERATION, USER_GENERATION, may_read, user_generation
from books.reads import access_meta
from cacheadmin.registry import DYNAMIC, Built, CachedRead, registry
from cacheadmin.retiring import retire_on
from reader.models import ReadingProgress
from reader.selectors import progress_of
from reader.serializers import ProgressSerializer


def progress(user_id, book_id):
    book = selectors.get_book(book_id)
    return Built(ProgressSerializer(progress_of(user_id, book)).data, access_meta(book))


PROGRESS = CachedRead(
    name="progress",
    template="user:{user_id}:progress:{book_id}",
    generations=(USER_GENERATION, BOOK_GENERATION),
    ttl=DYNAMIC,
    build=progress,
    params=lambda request, user_id, book_id: {"user_id": user_id, "book_id": book_id},
    scope="book_id",
    access=may_read,
)


def _users(rows, field):
    return {user_generation(row[field]) for row in rows}


def declare():
    registry.add_read(PROGRESS)
    retire_on(ReadingProgress, fields=("user_id",), generations=lambda rows: _users(rows, "user_id"))
    retire_on(get_user_model(), generations=lambda rows: _users(rows, "pk"))
