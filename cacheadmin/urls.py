from django.urls import path, re_path

from cacheadmin import views

urlpatterns = [
    path("stats/", views.StatsView.as_view(), name="cache-stats"),
    path("clear/", views.ClearView.as_view(), name="cache-clear"),
    # Anything up to the last slash is captured, so the view answers 400 for a bad pattern
    # (`../x`, `a/b`) rather than the router answering 404.
    re_path(r"^clear/(?P<pattern>.+)/$", views.ClearPatternView.as_view(), name="cache-clear-pattern"),
    path("warm/", views.WarmView.as_view(), name="cache-warm"),
    # Any id reaches the view, so the permission check comes first and a malformed id is a 404 from it.
    re_path(r"^jobs/(?P<job>[^/]+)/$", views.JobView.as_view(), name="cache-job"),
]
