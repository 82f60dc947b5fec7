"""Chapters: list, detail with previous/next, owner edits with sanitising and word counts (docs/API.md)."""

import math

import pytest

from books.models import Chapter
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)

CHAPTER_FIELDS = {
    "book_id",
    "number",
    "title",
    "content",
    "word_count",
    "reading_time_minutes",
    "previous",
    "next",
}


def chapters_url(book_id):
    return f"/api/v1/books/{book_id}/chapters/"


def chapter_url(book_id, number):
    return f"/api/v1/books/{book_id}/chapters/{number}/"


def is_json(response):
    return response["Content-Type"].startswith("application/json")


# List


def test_chapter_list(api, user):
    book = make_book(user, chapters=3, words=150)

    response = api.get(chapters_url(book.pk))

    assert response.status_code == 200
    assert response.json() == [
        {"number": 1, "title": "Chapter 1", "word_count": 150, "reading_time_minutes": 1},
        {"number": 2, "title": "Chapter 2", "word_count": 300, "reading_time_minutes": 2},
        {"number": 3, "title": "Chapter 3", "word_count": 450, "reading_time_minutes": 3},
    ]


def test_chapter_list_is_not_paginated(api, user):
    book = make_book(user, chapters=30, words=1)

    body = api.get(chapters_url(book.pk)).json()

    assert isinstance(body, list)
    assert [chapter["number"] for chapter in body] == list(range(1, 31))


def test_chapter_list_is_ordered_by_number_whatever_the_insert_order(api, user):
    book = make_book(user, chapters=3)
    Chapter.objects.filter(book=book, number=1).update(number=10)
    Chapter.objects.filter(book=book, number=3).update(number=1)
    Chapter.objects.filter(book=book, number=10).update(number=3)

    body = api.get(chapters_url(book.pk)).json()

    assert [(c["number"], c["title"]) for c in body] == [(1, "Chapter 3"), (2, "Chapter 2"), (3, "Chapter 1")]


def test_chapter_list_of_others_public_book(other_api, user):
    book = make_book(user, visibility="public", chapters=2)

    response = other_api.get(chapters_url(book.pk))

    assert response.status_code == 200
    assert len(response.json()) == 2


def test_chapter_list_of_missing_book_is_404(api):
    assert api.get(chapters_url(987654)).status_code == 404


# Detail


def test_chapter_detail(api, user):
    book = make_book(user, chapters=3, words=50)

    response = api.get(chapter_url(book.pk, 2))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == CHAPTER_FIELDS
    assert body["book_id"] == book.pk
    assert body["number"] == 2
    assert body["title"] == "Chapter 2"
    assert body["content"] == "<p>" + " ".join(["word"] * 100) + "</p>"
    assert body["word_count"] == 100
    assert body["reading_time_minutes"] == 1
    assert (body["previous"], body["next"]) == (1, 3)


def test_first_chapter_has_no_previous(api, user):
    book = make_book(user, chapters=3)

    body = api.get(chapter_url(book.pk, 1)).json()

    assert body["previous"] is None
    assert body["next"] == 2


def test_last_chapter_has_no_next(api, user):
    book = make_book(user, chapters=3)

    body = api.get(chapter_url(book.pk, 3)).json()

    assert body["previous"] == 2
    assert body["next"] is None


def test_only_chapter_has_neither(api, user):
    book = make_book(user, chapters=1)

    body = api.get(chapter_url(book.pk, 1)).json()

    assert (body["previous"], body["next"]) == (None, None)


@pytest.mark.parametrize("words, minutes", [(1, 1), (200, 1), (201, 2), (1000, 5)])
def test_reading_time_is_rounded_up(api, user, words, minutes):
    book = make_book(user, chapters=1, words=words)

    assert api.get(chapter_url(book.pk, 1)).json()["reading_time_minutes"] == minutes
    assert api.get(chapters_url(book.pk)).json()[0]["reading_time_minutes"] == minutes


@pytest.mark.parametrize("number", [0, 4, 999])
def test_missing_chapter_is_404(api, user, number):
    book = make_book(user, chapters=3)

    response = api.get(chapter_url(book.pk, number))

    assert response.status_code == 404
    assert is_json(response)
    assert "detail" in response.json()


def test_chapter_of_others_public_book(other_api, user):
    book = make_book(user, visibility="public")

    assert other_api.get(chapter_url(book.pk, 1)).status_code == 200


# PATCH


def test_patch_title(api, user):
    book = make_book(user, chapters=2, words=50)

    response = api.patch(chapter_url(book.pk, 1), {"title": "Renamed"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == CHAPTER_FIELDS
    assert body["title"] == "Renamed"
    assert body["word_count"] == 50
    assert body["content"].count("word") == 50
    assert api.get(chapter_url(book.pk, 1)).json()["title"] == "Renamed"


def test_patch_content_updates_word_counts(api, user):
    book = make_book(user, chapters=3, words=50)
    api.get(f"/api/v1/books/{book.pk}/")
    api.get(chapters_url(book.pk))

    response = api.patch(chapter_url(book.pk, 2), {"content": "<p>just four words here</p>"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["content"] == "<p>just four words here</p>"
    assert body["word_count"] == 4
    assert body["title"] == "Chapter 2"
    assert (body["previous"], body["next"]) == (1, 3)
    assert api.get(f"/api/v1/books/{book.pk}/").json()["word_count"] == 50 + 4 + 150
    assert api.get(chapters_url(book.pk)).json()[1]["word_count"] == 4
    assert api.get(chapter_url(book.pk, 2)).json()["content"] == "<p>just four words here</p>"


def test_patch_content_updates_reading_time(api, user):
    book = make_book(user, chapters=1, words=10)
    long = "<p>" + " ".join(["w"] * 401) + "</p>"

    body = api.patch(chapter_url(book.pk, 1), {"content": long}, format="json").json()

    assert body["word_count"] == 401
    assert body["reading_time_minutes"] == math.ceil(401 / 200)


def test_patch_content_to_empty(api, user):
    book = make_book(user, chapters=2, words=50)

    body = api.patch(chapter_url(book.pk, 1), {"content": ""}, format="json").json()

    assert body["word_count"] == 0
    assert body["reading_time_minutes"] == 0
    assert api.get(f"/api/v1/books/{book.pk}/").json()["word_count"] == 100


def test_patch_title_and_content_together(api, user):
    book = make_book(user, chapters=1)

    body = api.patch(chapter_url(book.pk, 1), {"title": "Both", "content": "<p>a b</p>"}, format="json").json()

    assert (body["title"], body["content"], body["word_count"]) == ("Both", "<p>a b</p>", 2)


@pytest.mark.parametrize(
    "html, forbidden",
    [
        ("<script>alert(1)</script>", ["<script", "alert(1)"]),
        ('<p onmouseover="alert(1)">x</p>', ["onmouseover"]),
        ('<a href="javascript:alert(1)">x</a>', ["javascript:"]),
        ('<iframe src="https://evil.example/"></iframe>', ["<iframe"]),
        ('<object data="x.swf"></object>', ["<object"]),
        ('<form action="/steal"><input name="pw"></form>', ["<form", "<input"]),
        ('<div style="background: expression(alert(1))">x</div>', ["expression("]),
    ],
)
def test_patch_content_is_sanitised(api, user, html, forbidden):
    book = make_book(user, chapters=1)

    body = api.patch(chapter_url(book.pk, 1), {"content": f"<p>safe text</p>{html}"}, format="json").json()
    stored = api.get(chapter_url(book.pk, 1)).json()["content"]

    for content in (body["content"], stored):
        assert "safe text" in content
        for fragment in forbidden:
            assert fragment not in content.lower(), content


def test_patch_sanitised_script_text_is_not_counted(api, user):
    book = make_book(user, chapters=1)

    body = api.patch(
        chapter_url(book.pk, 1), {"content": "<p>two words</p><script>var a = b + c;</script>"}, format="json"
    ).json()

    assert body["word_count"] == 2


def test_patch_by_other_on_public_book_is_403(other_api, user):
    book = make_book(user, visibility="public", chapters=1)

    response = other_api.patch(chapter_url(book.pk, 1), {"title": "Mine now", "content": "x"}, format="json")

    assert response.status_code == 403
    assert is_json(response)
    chapter = Chapter.objects.get(book=book, number=1)
    assert chapter.title == "Chapter 1"
    assert chapter.word_count == 50


def test_patch_by_other_on_private_book_is_404(other_api, user):
    book = make_book(user, chapters=1)

    response = other_api.patch(chapter_url(book.pk, 1), {"title": "Mine now"}, format="json")

    assert response.status_code == 404
    assert Chapter.objects.get(book=book, number=1).title == "Chapter 1"


def test_patch_missing_chapter_is_404(api, user):
    book = make_book(user, chapters=2)

    response = api.patch(chapter_url(book.pk, 3), {"title": "Ghost"}, format="json")

    assert response.status_code == 404
    assert Chapter.objects.filter(book=book).count() == 2


@pytest.mark.parametrize("body", [{"title": "x" * 501}, {"title": None}, {"content": None}, {"content": ["a"]}])
def test_patch_invalid_is_400(api, user, body):
    book = make_book(user, chapters=1)

    response = api.patch(chapter_url(book.pk, 1), body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == set(body)
    assert Chapter.objects.get(book=book).title == "Chapter 1"


def test_patch_empty_body_changes_nothing(api, user):
    book = make_book(user, chapters=1)

    response = api.patch(chapter_url(book.pk, 1), {}, format="json")

    assert response.status_code == 200
    assert response.json()["title"] == "Chapter 1"
    assert response.json()["word_count"] == 50
