from django.contrib import admin
from django.urls import include, path, register_converter
from django.urls.converters import IntConverter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from books import views as books
from cacheadmin import health
from cacheadmin.metrics_view import MetricsView
from cacheadmin.middleware import csp_sources
from reader import accounts
from reader import views as reader


class IdConverter(IntConverter):
    """A positive integer that fits every database's 64-bit integers; longer ones are 404."""

    regex = "[0-9]{1,18}"


register_converter(IdConverter, "id")

api = [
    path("auth/register/", accounts.RegisterView.as_view(), name="register"),
    path("auth/token/", accounts.TokenView.as_view(), name="token"),
    path("auth/logout/", accounts.LogoutView.as_view(), name="logout"),
    path("auth/password/", accounts.PasswordView.as_view(), name="password"),
    path("books/", books.BookListView.as_view(), name="book-list"),
    path("books/<id:book_id>/", books.BookDetailView.as_view(), name="book-detail"),
    path("books/<id:book_id>/chapters/", books.ChapterListView.as_view(), name="chapter-list"),
    path("books/<id:book_id>/chapters/<id:number>/", books.ChapterDetailView.as_view(), name="chapter-detail"),
    path("books/<id:book_id>/progress/", reader.ProgressView.as_view(), name="progress"),
    path("books/<id:book_id>/descriptions/", books.DescriptionListView.as_view(), name="description-list"),
    path(
        "books/<id:book_id>/descriptions/<id:description_id>/",
        books.DescriptionDetailView.as_view(),
        name="description-detail",
    ),
    path("books/<id:book_id>/cover/", books.CoverView.as_view(), name="book-cover"),
    path("books/<id:book_id>/toc/", books.TocView.as_view(), name="book-toc"),
    path("books/<id:book_id>/resources/<path:path>", books.ResourceView.as_view(), name="book-resource"),
    path("admin/cache/", include("cacheadmin.urls")),
]

SWAGGER_UI_SOURCES = {
    "script_src": ["https://cdn.jsdelivr.net"],
    "style_src": ["https://cdn.jsdelivr.net"],
    "img_src": ["https://cdn.jsdelivr.net"],
}

urlpatterns = [
    path("api/v1/", include(api)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI's own scripts come from its CDN; its setup script is a file of ours (no inline script).
    path(
        "api/docs/",
        csp_sources(SpectacularSwaggerSplitView.as_view(url_name="schema"), **SWAGGER_UI_SOURCES),
        name="docs",
    ),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("admin/", admin.site.urls),
]

handler400 = "books.errors.bad_request"
handler403 = "books.errors.permission_denied"
handler404 = "books.errors.not_found"
handler500 = "books.errors.server_error"
