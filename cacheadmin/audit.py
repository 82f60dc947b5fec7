"""Every clear and warm of the response cache, from the API or the admin, in the admin log.

The entries belong to the "response cache" (cacheadmin.CachePanel), name who did what and
how many keys it touched, and show in the Django admin's "Recent actions" of that user.
"""

from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType

from cacheadmin.models import CachePanel

API, ADMIN = "through the API", "in the admin"


def record(user, message, *, flag=CHANGE):
    return _log(user.pk, message, flag)


def _log(user_id, message, flag, fresh=False):
    if fresh:  # a long-lived task worker: content types may have been made anew since it cached them
        ContentType.objects.clear_cache()
    content_type = ContentType.objects.get_for_model(CachePanel, for_concrete_model=False)
    return LogEntry.objects.create(
        user_id=user_id,
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


def _target(book_ids):
    return f"book(s) {_ids(book_ids)}" if book_ids else "all books"


def warm_started(user, job, via):
    return record(user, f"Started warming {_target(job.book_ids)} {via} (job {job.pk}).")


def warm_ended(job):
    """The end of a warm job, under the user who asked for it (written by the task's worker)."""
    if job.requested_by_id is None:
        return None
    if job.state == job.State.DONE:
        message = f"Warmed {_target(job.book_ids)} (job {job.pk}): {job.books_done} book(s), {job.keys} key(s) written."
    else:
        message = f"Warming {_target(job.book_ids)} failed (job {job.pk}): {job.error}"
    return _log(job.requested_by_id, message, CHANGE, fresh=True)
