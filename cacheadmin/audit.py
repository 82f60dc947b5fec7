"""Every clear and warm of the response cache, from the API or the admin, in the admin log.

The entries belong to the "response cache" (cacheadmin.CachePanel), name who did what and
how many keys it touched, and show in the Django admin's "Recent actions" of that user.
"""

from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType

from cacheadmin.models import CachePanel

API, ADMIN = "through the API", "in the admin"


def record(user, message, *, flag=CHANGE):
    content_type = ContentType.objects.get_for_model(CachePanel, for_concrete_model=False)
    return LogEntry.objects.create(
        user_id=user.pk,
        content_type=content_type,
        object_id=None,
        object_repr="response cache",
        action_flag=flag,
        change_message=message,
    )


def _ids(book_ids):
    ids = sorted(int(book_id) for book_id in book_ids)
    shown = ", ".join(map(str, ids[:20]))
    return shown + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")


def cleared_all(user, deleted, via):
    return record(user, f"Cleared the response cache {via}: {deleted} key(s) deleted.", flag=DELETION)


def cleared_pattern(user, pattern, deleted, via):
    return record(user, f"Cleared the keys matching '{pattern}' {via}: {deleted} key(s) deleted.", flag=DELETION)


def cleared_books(user, book_ids, deleted, via):
    message = f"Cleared the cache of {len(book_ids)} book(s) ({_ids(book_ids)}) {via}: {deleted} key(s) deleted."
    return record(user, message, flag=DELETION)


def warmed(user, result, via, book_ids=None):
    what = f"book(s) {_ids(book_ids)}" if book_ids else "all books"
    return record(user, f"Warmed {what} {via}: {result.books} book(s), {result.keys} key(s) written.")
