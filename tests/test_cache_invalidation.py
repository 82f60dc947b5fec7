"""Every write path makes the very next read current, for every user."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from books import services
from books.models import Book, Chapter, Description, Visibility
from reader.models import ReadingProgress
from tests.factories import DescriptionFactory, admin_book_form, make_book

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def book(user):
    return make_book(user, title="Before", chapters=3, visibility=Visibility.PUBLIC)


def warm(client, *urls):
    for url in urls:
        client.get(url)
        assert client.get(url)["X-Cache"] == "HIT", url


def titles(client):
    return [b["title"] for b in client.get("/api/v1/books/").json()["results"]]


def test_api_patch_refreshes_book_and_every_users_list(api, other_api, book):
    warm(api, f"/api/v1/books/{book.pk}/", "/api/v1/books/")
    warm(other_api, "/api/v1/books/")

    api.patch(f"/api/v1/books/{book.pk}/", {"title": "After"}, format="json")

    assert api.get(f"/api/v1/books/{book.pk}/").json()["title"] == "After"
    assert titles(api) == ["After"]
    assert titles(other_api) == ["After"]


def test_model_save_in_code_refreshes_reads(api, other_api, book):
    warm(other_api, f"/api/v1/books/{book.pk}/", "/api/v1/books/")

    book.title = "Saved in code"
    book.save()

    assert other_api.get(f"/api/v1/books/{book.pk}/").json()["title"] == "Saved in code"
    assert titles(other_api) == ["Saved in code"]


def test_queryset_delete_in_code_refreshes_reads(api, other_api, book):
    warm(other_api, f"/api/v1/books/{book.pk}/", "/api/v1/books/")

    Book.objects.filter(pk=book.pk).delete()

    assert other_api.get(f"/api/v1/books/{book.pk}/").status_code == 404
    assert titles(other_api) == []


def test_new_public_book_appears_in_other_users_lists(api, other_api, user, book):
    warm(other_api, "/api/v1/books/")

    make_book(user, title="Fresh", visibility=Visibility.PUBLIC)

    assert titles(other_api) == ["Fresh", "Before"]


def test_private_book_of_another_user_does_not_touch_my_list(api, other_api, other, book):
    warm(api, "/api/v1/books/")

    make_book(other, title="Secret")

    response = api.get("/api/v1/books/")
    assert response["X-Cache"] == "HIT"
    assert "Secret" not in [b["title"] for b in response.json()["results"]]


def test_chapter_edit_refreshes_chapter_lists_and_word_counts(api, other_api, book):
    urls = [
        f"/api/v1/books/{book.pk}/chapters/1/",
        f"/api/v1/books/{book.pk}/chapters/",
        f"/api/v1/books/{book.pk}/",
    ]
    warm(other_api, *urls, "/api/v1/books/")

    chapter = book.chapters.get(number=1)
    chapter.set_content("<p>only three words</p>")
    chapter.save()

    assert other_api.get(urls[0]).json()["word_count"] == 3
    assert other_api.get(urls[1]).json()[0]["word_count"] == 3
    assert other_api.get(urls[2]).json()["word_count"] == 3 + 100 + 150
    assert other_api.get("/api/v1/books/").json()["results"][0]["word_count"] == 253


def test_chapter_delete_refreshes_counts(api, book):
    warm(api, f"/api/v1/books/{book.pk}/", f"/api/v1/books/{book.pk}/chapters/")

    Chapter.objects.filter(book=book, number=3).delete()

    assert api.get(f"/api/v1/books/{book.pk}/").json()["chapter_count"] == 2
    assert len(api.get(f"/api/v1/books/{book.pk}/chapters/").json()) == 2


def test_description_add_and_delete_refresh_descriptions(api, book):
    url = f"/api/v1/books/{book.pk}/descriptions/"
    warm(api, url)

    description = DescriptionFactory(book=book, chapter=book.chapters.get(number=2), text="A quiet harbour.")
    assert [d["text"] for d in api.get(url).json()] == ["A quiet harbour."]

    Description.objects.filter(pk=description.pk).delete()
    assert api.get(url).json() == []


def test_progress_write_refreshes_progress_and_my_list_only(api, other_api, book):
    progress_url = f"/api/v1/books/{book.pk}/progress/"
    warm(api, progress_url, "/api/v1/books/")
    warm(other_api, progress_url, "/api/v1/books/")

    api.put(progress_url, {"chapter": 2, "position": 0.5}, format="json")

    assert api.get(progress_url).json()["chapter"] == 2
    assert api.get("/api/v1/books/").json()["results"][0]["progress"]["chapter"] == 2
    assert other_api.get(progress_url).json()["chapter"] == 1
    assert other_api.get("/api/v1/books/").json()["results"][0]["progress"] is None


def test_progress_saved_in_code_refreshes_reads(api, user, book):
    progress_url = f"/api/v1/books/{book.pk}/progress/"
    warm(api, progress_url)

    ReadingProgress.objects.create(user=user, book=book, chapter=3, position=0.1, percent=70.0)

    assert api.get(progress_url).json()["percent"] == 70.0


def test_django_admin_change_refreshes_reads(other_api, book, staff):
    warm(other_api, f"/api/v1/books/{book.pk}/")
    admin = Client()
    admin.force_login(staff)
    staff.is_superuser = True
    staff.save()

    response = admin.post(
        f"/admin/books/book/{book.pk}/change/",
        admin_book_form(book, title="Edited in admin"),
    )

    assert response.status_code == 302, response.content[:2000]
    assert other_api.get(f"/api/v1/books/{book.pk}/").json()["title"] == "Edited in admin"


def test_management_command_write_refreshes_reads(api, user, book, tmp_path):
    from tests import epub_factory

    warm(api, "/api/v1/books/")
    (tmp_path / "new.epub").write_bytes(epub_factory.make_epub(title="Imported"))

    call_command("import_books", str(tmp_path), owner=user.username, stdout=StringIO())

    assert titles(api) == ["Imported", "Before"]


def test_nothing_changes_before_commit_and_a_rollback_changes_nothing(api, other_api, book):
    url = f"/api/v1/books/{book.pk}/"
    warm(other_api, url)

    with transaction.atomic():
        services.update_book(book, title="Committed")
        # Not committed yet: the cached answer still matches what the database shows others.
        assert other_api.get(url)["X-Cache"] == "HIT"
    assert other_api.get(url).json()["title"] == "Committed"

    with pytest.raises(RuntimeError), transaction.atomic():
        services.update_book(book, title="Rolled back")
        raise RuntimeError
    response = other_api.get(url)
    assert response.json()["title"] == "Committed"


def test_one_transaction_touching_many_rows_retires_them_together(api, user, book):
    url = f"/api/v1/books/{book.pk}/chapters/"
    warm(api, url)

    with transaction.atomic():
        for chapter in book.chapters.all():
            chapter.title = f"Renamed {chapter.number}"
            chapter.save()

    assert [c["title"] for c in api.get(url).json()] == ["Renamed 1", "Renamed 2", "Renamed 3"]


def test_retitling_a_chapter_keeps_every_users_book_list(api, other_api, book):
    warm(other_api, "/api/v1/books/", f"/api/v1/books/{book.pk}/chapters/")

    chapter = book.chapters.get(number=2)
    chapter.title = "A new name"
    chapter.save()

    assert other_api.get(f"/api/v1/books/{book.pk}/chapters/").json()[1]["title"] == "A new name"
    assert other_api.get("/api/v1/books/")["X-Cache"] == "HIT"  # counts unchanged: lists stay
