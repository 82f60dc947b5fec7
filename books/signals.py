"""Model-level rules of books that hold whatever path changes the data (API, admin, code).

What a change retires in the response cache is declared in books.cached.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from books.models import Book, Chapter, Resource
from books.services import refresh_counts
from cacheadmin.retiring import row_before


@receiver(post_delete, sender=Book)
def delete_book_files(sender, instance, **kwargs):
    files = [f for f in (instance.file, instance.cover) if f]
    if files:
        transaction.on_commit(lambda: [f.storage.delete(f.name) for f in files])


@receiver(post_delete, sender=Resource)
def delete_resource_file(sender, instance, **kwargs):
    if instance.file:
        name, storage = instance.file.name, instance.file.storage
        transaction.on_commit(lambda: storage.delete(name))


@receiver(post_save, sender=Chapter)
def chapter_saved(sender, instance, raw=False, **kwargs):
    if raw:
        return
    refresh_counts(instance.book_id)
    before = row_before(instance)
    if before is not None and before["book_id"] != instance.book_id:  # moved: the old book lost it
        refresh_counts(before["book_id"])


@receiver(post_delete, sender=Chapter)
def chapter_deleted(sender, instance, origin=None, **kwargs):
    # A book (or user) being deleted takes its chapters along: nothing left to count.
    if isinstance(origin, Chapter) or getattr(origin, "model", None) is Chapter:
        refresh_counts(instance.book_id)
