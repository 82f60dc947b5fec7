"""Admin actions on the Book changelist (books.admin.BookAdmin.actions)."""

from django.contrib import admin, messages

from cacheadmin import operations
from cacheadmin.cache import CacheUnavailable


def _book_ids(queryset):
    return list(queryset.order_by("pk").values_list("pk", flat=True))


@admin.action(description="Warm cache for selected books")
def warm_cache(modeladmin, request, queryset):
    try:
        result = operations.warm(book_ids=_book_ids(queryset))
    except CacheUnavailable:
        modeladmin.message_user(request, operations.unavailable_message(), messages.ERROR)
        return
    modeladmin.message_user(request, result.summary(), messages.SUCCESS)
    if result.missing:
        modeladmin.message_user(request, result.missing_summary(), messages.WARNING)


@admin.action(description="Clear cache for selected books")
def clear_cache(modeladmin, request, queryset):
    book_ids = _book_ids(queryset)
    try:
        deleted = operations.clear_books(book_ids)
    except CacheUnavailable:
        modeladmin.message_user(request, operations.unavailable_message(), messages.ERROR)
        return
    modeladmin.message_user(
        request, f"Cleared the cache of {len(book_ids)} book(s): {deleted} key(s) deleted.", messages.SUCCESS
    )
