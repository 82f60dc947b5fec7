from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from books import views as books
from cacheadmin import health
from reader import accounts
from reader import views as reader

api = [
    path("auth/register/", accounts.RegisterView.as_view(), name="register"),
    path("auth/token/", accounts.TokenView.as_view(), name="token"),
    path("books/", books.BookListView.as_view(), name="book-list"),
    path("books/<int:book_id>/", books.BookDetailView.as_view(), name="book-detail"),
    path("books/<int:book_id>/chapters/", books.ChapterListView.as_view(), name="chapter-list"),
    path("books/<int:book_id>/chapters/<int:number>/", books.ChapterDetailView.as_view(), name="chapter-detail"),
    path("books/<int:book_id>/progress/", reader.ProgressView.as_view(), name="progress"),
    path("books/<int:book_id>/descriptions/", books.DescriptionListView.as_view(), name="description-list"),
    path(
        "books/<int:book_id>/descriptions/<int:description_id>/",
        books.DescriptionDetailView.as_view(),
        name="description-detail",
    ),
    path("books/<int:book_id>/cover/", books.CoverView.as_view(), name="book-cover"),
    path("admin/cache/", include("cacheadmin.urls")),
]

urlpatterns = [
    path("api/v1/", include(api)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]

handler400 = "books.errors.bad_request"
handler403 = "books.errors.permission_denied"
handler404 = "books.errors.not_found"
handler500 = "books.errors.server_error"
