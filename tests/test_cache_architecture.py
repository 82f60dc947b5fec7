"""The engine's shape: domain-free, one declaration per read, DRF's checks on every hit."""

import ast
from pathlib import Path

import pytest
from django.urls import path
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from books.cached import BOOK_GENERATION, may_read
from books.models import Book
from books.reads import access_meta
from cacheadmin import operations
from cacheadmin.registry import STATIC, Built, CachedRead, registry
from cacheadmin.responses import CachedReadMixin
from tests import cacheadmin_support as support
from tests.factories import make_book

ENGINE = Path(__file__).resolve().parent.parent / "cacheadmin"


def imported_modules(source_file):
    tree = ast.parse(source_file.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_no_engine_module_imports_books_or_reader():
    offenders = {
        (str(source.relative_to(ENGINE)), module)
        for source in ENGINE.rglob("*.py")
        for module in imported_modules(source)
        if module.split(".")[0] in ("books", "reader")
    }
    assert offenders == set()


def test_the_check_above_sees_imports():
    here = Path(__file__)
    assert "books.cached" in set(imported_modules(here))


# --- adding a read is one declaration plus its view ----------------------------------------


def _word_count(book_id):
    book = Book.objects.filter(pk=book_id).first()
    if book is None:
        raise NotFound
    return Built({"words": book.word_count}, access_meta(book))


WORDS = CachedRead(
    name="words",
    template="book:{book_id}:words",
    generations=(BOOK_GENERATION,),
    ttl=STATIC,
    build=_word_count,
    params=lambda request, user_id, book_id: {"book_id": book_id},
    scope="book_id",
    warm=lambda book_id: [{"book_id": book_id}],
    access=may_read,
)


class WordsView(CachedReadMixin, APIView):
    cached_read = WORDS


class OnlyStaff(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_staff)


class StaffOnlyBookView(CachedReadMixin, APIView):
    from books.cached import BOOK as cached_read

    permission_classes = [IsAuthenticated, OnlyStaff]


class TwoPerMinute(UserRateThrottle):
    rate = "2/min"
    scope = "test-two"


class ThrottledBookView(CachedReadMixin, APIView):
    from books.cached import BOOK as cached_read

    throttle_classes = [TwoPerMinute]


urlpatterns = [
    path("words/<int:book_id>/", WordsView.as_view()),
    path("staff-book/<int:book_id>/", StaffOnlyBookView.as_view()),
    path("throttled-book/<int:book_id>/", ThrottledBookView.as_view()),
]


@pytest.fixture
def words_read(settings):
    settings.ROOT_URLCONF = __name__
    registry.add_read(WORDS)
    yield WORDS
    registry.remove_read(WORDS)


@pytest.mark.django_db(transaction=True)
def test_a_new_read_is_cached_retired_cleared_warmed_and_counted_from_its_declaration(words_read, api, user):
    book = make_book(user, chapters=2)
    url = f"/words/{book.pk}/"

    first, second = api.get(url), api.get(url)
    assert (first["X-Cache"], second["X-Cache"], second.json()) == ("MISS", "HIT", {"words": book.word_count})
    assert f"book:{book.pk}:words" in support.response_keys()  # the key pattern knows it

    book.chapters.get(number=1).delete()  # retired by the book's generation, declared once
    third = api.get(url)
    assert (third["X-Cache"], third.json()) == ("MISS", {"words": Book.objects.get(pk=book.pk).word_count})

    assert operations.clear_books([book.pk]) >= 1  # the book's scoped clear reaches it
    assert f"book:{book.pk}:words" not in support.response_keys()

    operations.warm(book_ids=[book.pk])  # and its warm plan
    assert api.get(url)["X-Cache"] == "HIT"
    assert operations.stats()["reads"]["words"]["hits"] >= 2


@pytest.mark.django_db(transaction=True)
def test_a_new_read_checks_access_on_hits(words_read, api, other_api, user):
    book = make_book(user, chapters=1)
    assert api.get(f"/words/{book.pk}/")["X-Cache"] == "MISS"
    response = other_api.get(f"/words/{book.pk}/")  # a private book: stored, but not theirs
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


# --- hits pass the same checks as misses ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_views_extra_permission_holds_on_hits(settings, api, user, staff):
    settings.ROOT_URLCONF = __name__
    from tests.conftest import client_for

    book = make_book(user, chapters=1, visibility="public")
    staff_api = client_for(staff)
    url = f"/staff-book/{book.pk}/"
    assert staff_api.get(url)["X-Cache"] == "MISS"
    assert staff_api.get(url)["X-Cache"] == "HIT"

    denied = api.get(url)  # the answer is stored, but this caller is not staff
    assert denied.status_code == 403
    assert denied.json() == {"detail": "You do not have permission to perform this action."}
    assert "X-Cache" not in denied


@pytest.mark.django_db(transaction=True)
def test_a_views_throttle_holds_on_hits(settings, api, user):
    settings.ROOT_URLCONF = __name__
    book = make_book(user, chapters=1)
    url = f"/throttled-book/{book.pk}/"

    answers = [api.get(url) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1]["X-Cache"] == "HIT"
    assert "Retry-After" in answers[2]
    assert answers[2].json()["detail"].startswith("Request was throttled")


@pytest.mark.django_db(transaction=True)
def test_errors_on_hits_are_shaped_by_drf(api, other_api, user):
    book = make_book(user, chapters=1)
    url = f"/api/v1/books/{book.pk}/chapters/1/"
    assert api.get(url)["X-Cache"] == "MISS"
    response = other_api.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db(transaction=True)
def test_a_hit_with_a_token_costs_no_sql(api, user, django_assert_num_queries):
    book = make_book(user, chapters=2)
    urls = [
        "/api/v1/books/",
        f"/api/v1/books/{book.pk}/",
        f"/api/v1/books/{book.pk}/chapters/",
        f"/api/v1/books/{book.pk}/chapters/1/",
        f"/api/v1/books/{book.pk}/progress/",
        f"/api/v1/books/{book.pk}/descriptions/",
    ]
    for url in urls:
        api.get(url)
        api.get(url)  # the per-user reads learn the token's holder here
    for url in urls:
        with django_assert_num_queries(0):
            assert api.get(url)["X-Cache"] == "HIT", url
