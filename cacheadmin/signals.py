"""Every write retires the cached answers it affects, once its transaction commits.

The generations each write replaces are named in cacheadmin.keys. The receivers below
cover every path to the data: the API, the Django admin, `save()`/`delete()` in code,
management commands, and cascades.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from books import changes
from books.models import Book, Chapter, Description, Visibility
from cacheadmin import keys
from cacheadmin.cache import response_cache
from reader.models import ReadingProgress


class _Batch:
    """The generations touched by one transaction, retired together after it commits."""

    def __init__(self):
        self.generations = set()

    def __call__(self):
        response_cache.invalidate(self.generations)


def retire_after_commit(generations):
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        response_cache.invalidate(generations)
        return
    batch = getattr(connection, "_cache_batch", None)
    # A batch whose callback went with a rolled-back (save)point must not be reused.
    if batch is None or not any(callback is batch for _, callback, _ in connection.run_on_commit):
        batch = connection._cache_batch = _Batch()
        transaction.on_commit(batch)
    batch.generations.update(generations)


@receiver([post_save, post_delete], sender=Book)
def book_changed(sender, instance, **kwargs):
    public_now = instance.visibility == Visibility.PUBLIC
    public_before = changes.before(instance, "visibility") == Visibility.PUBLIC
    owners = (instance.owner_id, changes.before(instance, "owner_id"))
    retire_after_commit(keys.for_book(instance.pk, owners, public_now, public_before))


@receiver([post_save, post_delete], sender=Chapter)
@receiver([post_save, post_delete], sender=Description)
def book_content_changed(sender, instance, **kwargs):
    book_ids = {instance.book_id, changes.before(instance, "book_id")}
    retire_after_commit([gen for book_id in book_ids for gen in keys.for_book_content(book_id)])


@receiver([post_save, post_delete], sender=ReadingProgress)
def progress_changed(sender, instance, **kwargs):
    user_ids = {instance.user_id, changes.before(instance, "user_id")}
    retire_after_commit([gen for user_id in user_ids for gen in keys.for_progress(user_id)])


@receiver([post_save, post_delete], sender=Token)
def token_changed(sender, instance, **kwargs):
    retire_after_commit(keys.for_token(instance.key))


@receiver([post_save, post_delete], sender=get_user_model())
def user_changed(sender, instance, **kwargs):
    token_keys = Token.objects.filter(user_id=instance.pk).values_list("key", flat=True)
    retire_after_commit(keys.for_user(instance.pk, list(token_keys)))
