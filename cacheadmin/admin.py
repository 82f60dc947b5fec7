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
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone

from cacheadmin import audit, charts, jobs, operations, panel
from cacheadmin.cache import CacheUnavailable
from cacheadmin.forms import PatternForm, WarmForm
from cacheadmin.models import CachePanel
from cacheadmin.permissions import can_manage_cache, can_view_cache_stats
from cacheadmin.registry import registry

JOB_REFRESH_SECONDS = 2
DASHBOARD_REFRESH_SECONDS = 30  # the dashboard's optional auto-refresh (?refresh=30)
RECENT_BOOK_IDS = 50  # the warm form offers these latest book ids
PREVIEW_KEYS = 10  # the pattern preview lists this many keys, then 'and N more'


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
        warn_unavailable(request)
        return self._dashboard()

    # --- views ------------------------------------------------------------------------

    def dashboard_view(self, request):
        stats = operations.stats()
        hour = memory = None
        if stats["available"]:
            try:
                hour, memory = panel.last_hour(), panel.app_memory()
            except CacheUnavailable:
                stats = operations.stats()
        if not stats["available"]:
            warn_unavailable(request)
        refresh = DASHBOARD_REFRESH_SECONDS if request.GET.get("refresh") == str(DASHBOARD_REFRESH_SECONDS) else 0
        can_act = self.has_manage_permission(request) and stats["available"]
        return self._render(
            request,
            "dashboard.html",
            "Response cache",
            stats=stats,
            rows=operations.namespace_rows(stats),
            read_rows=_read_rows(stats, hour),
            charts=_charts(hour),
            since=hour.since if hour else None,
            as_of=timezone.now(),
            refresh=refresh,
            refresh_choice=DASHBOARD_REFRESH_SECONDS,
            memory=memory,
            memory_text=panel.size(memory.bytes) if memory else None,
            server_memory_text=panel.size(int(stats["memory_used_mb"] * 1024 * 1024)) if stats["available"] else None,
            redis_in_use=panel.redis_in_use(),
            ttls={kind: panel.duration(seconds) for kind, seconds in stats["ttl_seconds"].items()},
            uptime=panel.duration(stats["uptime_seconds"], most=2),
            can_act=can_act,
            pattern_form=PatternForm(),
            warm_form=WarmForm(),
            book_ids=_recent_book_ids() if can_act else [],
            books_url=_books_url(),
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
            count, sample = operations.preview_pattern(pattern, sample_size=PREVIEW_KEYS)
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
            more=max(count - len(sample), 0),
        )

    def warm_view(self, request):
        if not self.has_manage_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return self._render(request, "warm.html", "Warm the response cache", form=WarmForm(), **_picker())
        form = WarmForm(request.POST)
        if not form.is_valid():
            return self._render(request, "warm.html", "Warm the response cache", form=form, **_picker())
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


# --- helpers of the views ---------------------------------------------------------------


def warn_unavailable(request):
    """The one 'Redis is unreachable' banner of a page, however many steps noticed it."""
    text = operations.unavailable_message()
    if text not in (str(message) for message in messages.get_messages(request)):
        messages.error(request, text)


def _read_rows(stats, hour):
    """Per declared read: totals since counting started and the last hour (None when unknown)."""
    series = {one.name: one for one in hour.reads} if hour else {}
    rows = []
    for read in registry.response_reads():
        numbers = stats["reads"].get(read.name, {})
        hits, misses = numbers.get("hits"), numbers.get("misses")
        total = (hits or 0) + (misses or 0)
        rows.append(
            {
                "name": read.name,
                "namespace": read.namespace,
                "ttl": panel.duration(read.ttl_seconds),
                "keys": numbers.get("keys"),
                "hits": hits,
                "misses": misses,
                "rate": round(100.0 * hits / total, 1) if hits is not None and total else None,
                "hour": series.get(read.name),
            }
        )
    return rows


def _charts(hour):
    if hour is None:
        return None
    names = [one.name for one in hour.reads]
    return {
        "requests": charts.line_chart(
            "chart-requests",
            "Requests per minute, per read, in the last hour",
            hour.minutes,
            [(one.name, one.requests) for one in hour.reads],
        ),
        "hit_rate": charts.line_chart(
            "chart-hit-rate",
            "Hit rate per minute, per read, in the last hour",
            hour.minutes,
            [(one.name, one.hit_rates) for one in hour.reads],
            y_max=100,
            unit=" %",
        ),
        "legend": charts.legend(names),
    }


def _recent_book_ids():
    ids = list(registry.units(operations.BOOK_SCOPE))
    return list(reversed(ids[-RECENT_BOOK_IDS:]))


def _books_url():
    try:
        return reverse("admin:books_book_changelist")
    except NoReverseMatch:
        return None


def _picker():
    return {"book_ids": _recent_book_ids(), "books_url": _books_url()}
