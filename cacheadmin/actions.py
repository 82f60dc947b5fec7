"""Admin actions on the Book changelist (books.admin.BookAdmin, through CacheActionsMixin).

Only staff with the cache permission see or run them; each run is recorded in the admin log.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from cacheadmin import audit, jobs, operations
from cacheadmin.cache import CacheUnavailable
from cacheadmin.permissions import can_manage_cache


def _book_ids(queryset):
    return list(queryset.order_by("pk").values_list("pk", flat=True))


@admin.action(description="Warm cache for selected books", permissions=["manage_cache"])
def warm_cache(modeladmin, request, queryset):
    """Enqueue a warm job for the selection and show its page (cacheadmin.admin's job view)."""
    try:
        job = jobs.start_warm(book_ids=_book_ids(queryset), user=request.user)
    except CacheUnavailable:
        modeladmin.message_user(request, operations.unavailable_message(), messages.ERROR)
        return None
    except jobs.QueueUnavailable:
        modeladmin.message_user(request, jobs.QUEUE_MESSAGE, messages.ERROR)
        return None
    audit.warm_started(request.user, job, audit.ADMIN)
    modeladmin.message_user(request, f"Warming {job.target()} in the background.", messages.SUCCESS)
    return HttpResponseRedirect(reverse("admin:cacheadmin_cachepanel_job", args=[job.pk]))


@admin.action(description="Clear cache for selected books", permissions=["manage_cache"])
def clear_cache(modeladmin, request, queryset):
    """First a confirmation page naming the books (as Django's delete_selected), then the clear."""
    if request.POST.get("post") != "yes":
        return _confirm_clear(modeladmin, request, queryset)
    book_ids = _book_ids(queryset)
    try:
        deleted = operations.clear_books(book_ids)
    except CacheUnavailable:
        modeladmin.message_user(request, operations.unavailable_message(), messages.ERROR)
        return None
    audit.cleared_books(request.user, book_ids, deleted, audit.ADMIN)
    modeladmin.message_user(
        request, f"Cleared the cache of {len(book_ids)} book(s): {deleted} key(s) deleted.", messages.SUCCESS
    )
    return None


def _confirm_clear(modeladmin, request, queryset):
    opts = modeladmin.model._meta
    books = list(queryset.order_by("pk"))
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Clear the cache of these books?",
        "opts": opts,
        "app_label": opts.app_label,
        "books": books,
        "action_name": "clear_cache",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
    }
    return TemplateResponse(request, "admin/cacheadmin/confirm_clear_books.html", context)


class CacheActionsMixin:
    """For a ModelAdmin of books: the two cache actions, for holders of the cache permission."""

    actions = [warm_cache, clear_cache]

    def has_manage_cache_permission(self, request):
        return can_manage_cache(request.user)
