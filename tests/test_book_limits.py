"""BOOK_MAX_CHAPTERS and CHAPTER_MAX_MB answer 400 naming the limit (EPUB, JSON, edits); people in the book JSON."""

import os
import time

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from books.models import Book
from tests import epub_factory
from tests.factories import make_book

pytestmark = pytest.mark.django_db

BOOKS = "/api/v1/books/"


def upload(client, data):
    file = SimpleUploadedFile("b.epub", data, content_type="application/epub+zip")
    return client.post(BOOKS, {"file": file}, format="multipart")


def stored_files():
    root = django_settings.MEDIA_ROOT
    return {os.path.join(folder, name) for folder, _dirs, names in os.walk(root) for name in names}


def test_json_book_with_too_many_chapters(settings, api):
    settings.BOOK_MAX_CHAPTERS = 3
    chapters = [{"title": "", "content": "<p>x</p>"}] * 5000

    started = time.monotonic()
    response = api.post(BOOKS, {"title": "Long", "chapters": chapters}, format="json")

    assert response.status_code == 400
    assert "BOOK_MAX_CHAPTERS" in response.json()["chapters"][0]
    assert time.monotonic() - started < 5  # refused before any chapter is looked at
    assert not Book.objects.exists()


def test_json_book_at_the_limit_is_accepted(settings, api):
    settings.BOOK_MAX_CHAPTERS = 3
    chapters = [{"title": "", "content": "<p>x</p>"}] * 3

    assert api.post(BOOKS, {"title": "Fits", "chapters": chapters}, format="json").status_code == 201


def test_json_chapter_too_large(settings, api):
    settings.CHAPTER_MAX_MB = 1
    big = "<p>" + "word " * 220_000 + "</p>"

    response = api.post(BOOKS, {"title": "Big", "chapters": [{"title": "", "content": big}]}, format="json")

    assert response.status_code == 400
    assert "CHAPTER_MAX_MB" in str(response.json()["chapters"])  # {"chapters": {"0": {"content": [...]}}}


def test_chapter_edit_too_large(settings, api, user):
    settings.CHAPTER_MAX_MB = 1
    book = make_book(user, chapters=1)
    big = "<p>" + "é " * 600_000 + "</p>"  # 600,000 characters, 1.8 MB in UTF-8

    response = api.patch(f"{BOOKS}{book.pk}/chapters/1/", {"content": big}, format="json")

    assert response.status_code == 400
    assert "CHAPTER_MAX_MB" in response.json()["content"][0]


def test_epub_with_too_many_chapters_stores_nothing(settings, api):
    settings.BOOK_MAX_CHAPTERS = 2
    before = stored_files()

    response = upload(api, epub_factory.make_epub(cover=True))

    assert response.status_code == 400
    assert "BOOK_MAX_CHAPTERS" in response.json()["file"][0]
    assert not Book.objects.exists()
    assert stored_files() == before


def test_epub_chapter_too_large(settings, api):
    settings.CHAPTER_MAX_MB = 1
    big = "<p>" + "word " * 220_000 + "</p>"

    response = upload(api, epub_factory.make_epub(chapters=[("Big", big)]))

    assert response.status_code == 400
    assert "CHAPTER_MAX_MB" in response.json()["file"][0]


# People


def test_json_book_author_is_its_one_author(api):
    chapters = [{"title": "", "content": "x"}]
    body = api.post(BOOKS, {"title": "T", "author": "Jo Writer", "chapters": chapters}, format="json").json()

    assert (body["author"], body["authors"], body["contributors"]) == ("Jo Writer", ["Jo Writer"], [])


def test_changing_the_author_changes_the_authors(api):
    book = upload(api, epub_factory.make_epub(author=("Ann One", "Bob Two"))).json()
    assert book["authors"] == ["Ann One", "Bob Two"]

    changed = api.patch(f"{BOOKS}{book['id']}/", {"author": "Someone Else"}, format="json").json()

    assert (changed["author"], changed["authors"]) == ("Someone Else", ["Someone Else"])
    emptied = api.patch(f"{BOOKS}{book['id']}/", {"author": ""}, format="json").json()
    assert emptied["authors"] == []


def test_authors_and_contributors_are_read_only(api, user):
    book = make_book(user, author="Jo")

    response = api.patch(
        f"{BOOKS}{book.pk}/", {"authors": ["X"], "contributors": [{"name": "Y", "role": "trl"}]}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["authors"], response.json()["contributors"]) == (["Jo"], [])
