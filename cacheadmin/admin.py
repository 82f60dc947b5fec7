"""The Django admin's cache panel: statistics, clear all, clear by pattern, warm (a background job).

The admin index lists registered models only, so the panel is registered on CachePanel,
an unmanaged model without a table. Its admin replaces every model URL with the panel's
own views, each behind admin_site.admin_view (staff only, CSRF-protected, never cached),
and every operation is a call into cacheadmin.operations (warming: cacheadmin.jobs, whose
job page reloads itself until the job ends). Seeing the panel needs
``cacheadmin.view_cache_stats`` (or ``manage_cache``); clearing and warming need
``cacheadmin.manage_cache`` (cacheadmin.permissions), and each is recorded in the admin log.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from cacheadmin import audit, jobs, operations
from cacheadmin.cache import CacheUnavailable
from cacheadmin.forms import PatternForm, WarmForm
from cacheadmin.models import CachePanel
from cacheadmin.permissions import can_manage_cache, can_view_cache_stats

JOB_REFRESH_SECONDS = 2


@admin.register(CachePanel)
class CachePanelAdmin(admin.ModelAdmin):
    # --- the cache permissions decide; there is nothing to add, change or delete

    def has_module_permission(self, request):
        return can_view_cache_stats(request.user)

    def has_view_permission(self, request, obj=None):
        return can_view_cache_stats(request.user)

    def has_manage_permission(self, request):
        return can_manage_cache(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.dashboard_view), name="{}_{}_changelist".format(*info)),
            path("clear/", wrap(self.clear_view), name="{}_{}_clear".format(*info)),
            path("pattern/", wrap(self.pattern_view), name="{}_{}_pattern".format(*info)),
            path("warm/", wrap(self.warm_view), name="{}_{}_warm".format(*info)),
            path("jobs/<str:job>/", wrap(self.job_view), name="{}_{}_job".format(*info)),
        ]

    # --- helpers ----------------------------------------------------------------------

    def _url(self, name, *args):
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)

    def _dashboard(self):
        return HttpResponseRedirect(self._url("changelist"))

    def _render(self, request, template, title, **context):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "title": title,
            "dashboard_url": self._url("changelist"),
            "clear_url": self._url("clear"),
            "pattern_url": self._url("pattern"),
            "warm_url": self._url("warm"),
            "can_manage": self.has_manage_permission(request),
            **context,
        }
        return TemplateResponse(request, f"admin/cacheadmin/{template}", context)

    def _unavailable(self, request):
        messages.error(request, operations.unavailable_message())
        return self._dashboard()

    # --- views ------------------------------------------------------------------------

    def dashboard_view(self, request):
        stats = operations.stats()
        if not stats["available"]:
            messages.error(request, operations.unavailable_message())
        return self._render(
            request,
            "dashboard.html",
            "Response cache",
            stats=stats,
            rows=operations.namespace_rows(stats),
            uptime=operations.format_seconds(stats["uptime_seconds"]),
            pattern_form=PatternForm(),
            warm_form=WarmForm(),
            jobs=[(job, self._url("job", job.pk)) for job in jobs.recent()],
        )

    def clear_view(self, request):
        if not self.has_manage_permission(request):
            raise PermissionDenied
        try:
            if request.method == "POST":
                deleted = operations.clear()["deleted"]
                audit.cleared_all(request.user, deleted, audit.ADMIN)
                messages.success(request, f"Cleared the response cache: {deleted} key(s) deleted.")
                return self._dashboard()
            count = operations.count_pattern("*")
        except CacheUnavailable:
            return self._unavailable(request)
        return self._render(request, "confirm_clear.html", "Clear the response cache", count=count)

    def pattern_view(self, request):
        if not self.has_manage_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            form = PatternForm(initial={"pattern": request.GET.get("pattern", "")})
            return self._render(request, "pattern.html", "Clear by pattern", form=form)
        form = PatternForm(request.POST)
        if not form.is_valid():
            return self._render(request, "pattern.html", "Clear by pattern", form=form)
        pattern = form.cleaned_data["pattern"]
        try:
            if "confirm" in request.POST:
                deleted = operations.clear_pattern(pattern)["deleted"]
                audit.cleared_pattern(request.user, pattern, deleted, audit.ADMIN)
                messages.success(request, f"Deleted {deleted} key(s) matching '{pattern}'.")
                return self._dashboard()
            count, sample = operations.preview_pattern(pattern)
        except CacheUnavailable:
            return self._unavailable(request)
        return self._render(
            request,
            "pattern.html",
            "Clear by pattern",
            form=form,
            preview=True,
            pattern=pattern,
            count=count,
            sample=sample,
        )

    def warm_view(self, request):
        if not self.has_manage_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return self._render(request, "warm.html", "Warm the response cache", form=WarmForm())
        form = WarmForm(request.POST)
        if not form.is_valid():
            return self._render(request, "warm.html", "Warm the response cache", form=form)
        book_ids = form.cleaned_data["books"]
        try:
            job = jobs.start_warm(book_ids=book_ids, all_books=form.cleaned_data["all"], user=request.user)
        except CacheUnavailable:
            return self._unavailable(request)
        except jobs.QueueUnavailable:
            messages.error(request, jobs.QUEUE_MESSAGE)
            return self._dashboard()
        audit.warm_started(request.user, job, audit.ADMIN)
        messages.success(request, f"Warming {job.target()} in the background.")
        return HttpResponseRedirect(self._url("job", job.pk))

    def job_view(self, request, job):
        """A warm job's progress and result; the page reloads itself until the job ends."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        found = jobs.find(job)
        if found is None:
            raise Http404("No such warm job.")
        return self._render(request, "job.html", "Warm job", job=found, refresh_seconds=JOB_REFRESH_SECONDS)
