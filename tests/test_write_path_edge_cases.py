"""Edge cases of the write paths found in review; each docstring names the trap the code must avoid.

Real PostgreSQL and Redis, no mocks. The contract is docs/API.md ("Cached reads": a change through
any path -- the API, the Django admin, a model's save() in code -- is visible to the very next read,
for every user; a private book is never shown to another user).
"""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from books.models import Book, Chapter, Description, Visibility
from cacheadmin.cache import response_cache
from reader.models import ReadingProgress
from tests import epub_factory
from tests.factories import DescriptionFactory, UserFactory, admin_book_form, make_book

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_site():
    """A Django admin session of a superuser (the admin is one of the contract's write paths)."""
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def warm(client, *urls):
    for url in urls:
        client.get(url)
        assert client.get(url)["X-Cache"] == "HIT", url


def list_ids(client, query=""):
    return [b["id"] for b in client.get(f"/api/v1/books/{query}").json()["results"]]


# --- a write that moves a row to another parent retires only the new parent's reads -------------


def test_admin_moving_a_chapter_to_another_book_refreshes_the_old_book(api, user, admin_site):
    """cacheadmin/signals.py book_content_changed and books/signals.py chapter_saved only see the new book_id."""
    source = make_book(user, title="Source", chapters=3)
    target = make_book(user, title="Target", chapters=1)
    warm(
        api,
        f"/api/v1/books/{source.pk}/",
        f"/api/v1/books/{source.pk}/chapters/",
        f"/api/v1/books/{source.pk}/chapters/3/",
    )
    moved = Chapter.objects.get(book=source, number=3)

    response = admin_site.post(
        f"/admin/books/chapter/{moved.pk}/change/",
        {"book": target.pk, "number": 2, "title": moved.title, "content": moved.content},
    )
    assert response.status_code == 302, response.content[:2000]

    assert [c["number"] for c in api.get(f"/api/v1/books/{source.pk}/chapters/").json()] == [1, 2]
    assert api.get(f"/api/v1/books/{source.pk}/chapters/3/").status_code == 404
    assert api.get(f"/api/v1/books/{source.pk}/").json()["chapter_count"] == 2


def test_progress_on_a_book_whose_chapter_was_moved_away_is_never_500(api, user, admin_site):
    """A stale Book.chapter_count lets chapter 3 pass validation; percent_read (reader/services.py) then IndexErrors."""
    source = make_book(user, title="Source", chapters=3)
    target = make_book(user, title="Target", chapters=1)
    moved = Chapter.objects.get(book=source, number=3)
    admin_site.post(
        f"/admin/books/chapter/{moved.pk}/change/",
        {"book": target.pk, "number": 2, "title": moved.title, "content": moved.content},
    )

    response = api.put(f"/api/v1/books/{source.pk}/progress/", {"chapter": 3, "position": 0.5}, format="json")

    assert response.status_code == 400, response.status_code


def test_admin_moving_a_description_to_another_book_refreshes_the_old_book(api, user, admin_site):
    source = make_book(user, title="Source", chapters=1)
    target = make_book(user, title="Target", chapters=1)
    description = DescriptionFactory(book=source, chapter=source.chapters.get(), text="Moving away")
    url = f"/api/v1/books/{source.pk}/descriptions/"
    warm(api, url)

    response = admin_site.post(
        f"/admin/books/description/{description.pk}/change/",
        {"book": target.pk, "chapter": target.chapters.get().pk, "kind": "location", "text": "Moving away"},
    )
    assert response.status_code == 302, response.content[:2000]

    assert api.get(url).json() == []


def test_admin_reassigning_progress_to_another_user_refreshes_the_old_users_progress(
    api, other_api, user, other, admin_site
):
    """cacheadmin/signals.py progress_changed retires only the new user's generation."""
    book = make_book(user, chapters=3, visibility=Visibility.PUBLIC)
    progress = ReadingProgress.objects.create(user=user, book=book, chapter=2, position=0.5, percent=40.0)
    url = f"/api/v1/books/{book.pk}/progress/"
    warm(api, url, "/api/v1/books/")

    response = admin_site.post(
        f"/admin/reader/readingprogress/{progress.pk}/change/",
        {"user": other.pk, "book": book.pk, "chapter": 2, "position": 0.5, "cfi": "", "percent": 40.0},
    )
    assert response.status_code == 302, response.content[:2000]

    body = api.get(url).json()
    assert (body["chapter"], body["percent"], body["updated_at"]) == (1, 0.0, None)
    assert api.get("/api/v1/books/").json()["results"][0]["progress"] is None
    assert other_api.get(url).json()["percent"] == 40.0


def test_admin_changing_a_private_books_owner_removes_it_from_the_old_owners_list(api, user, other, admin_site):
    """for_book() retires gen:user of the new owner only: the old owner keeps seeing another user's private book."""
    book = make_book(user, title="Handed over", chapters=1)
    warm(api, "/api/v1/books/")
    assert list_ids(api) == [book.pk]

    response = admin_site.post(
        f"/admin/books/book/{book.pk}/change/",
        {
            "owner": other.pk,
            "title": "Handed over",
            "author": "",
            "language": "en",
            "genre": "",
            "description": "",
            "visibility": "private",
            "file_format": "json",
            "chapters-TOTAL_FORMS": "0",
            "chapters-INITIAL_FORMS": "0",
            "chapters-MIN_NUM_FORMS": "0",
            "chapters-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert Book.objects.get(pk=book.pk).owner_id == other.pk

    assert list_ids(api) == []
    assert api.get(f"/api/v1/books/{book.pk}/").status_code == 404


# --- visibility is remembered at load time, not read from the database -------------------------


def test_private_after_refresh_from_db_is_gone_from_other_users_lists(api, other_api, user):
    """cacheadmin/signals.py compares with the visibility seen by post_init; refresh_from_db() does not update it."""
    book = make_book(user, title="Secret again", chapters=1)  # loaded while private
    api.patch(f"/api/v1/books/{book.pk}/", {"visibility": "public"}, format="json")
    warm(other_api, "/api/v1/books/")
    assert list_ids(other_api) == [book.pk]

    book.refresh_from_db()  # now "public", as in the database
    book.visibility = Visibility.PRIVATE
    book.save()

    assert other_api.get(f"/api/v1/books/{book.pk}/").status_code == 404
    assert list_ids(other_api) == []  # the private book, with its title and description, is still listed


# --- chapter numbering after a chapter is deleted (admin, or Chapter.delete() in code) ----------


def test_previous_and_next_point_at_chapters_that_exist_after_a_deletion(api, user):
    """ChapterSerializer.get_previous/get_next assume numbers 1..chapter_count without gaps."""
    book = make_book(user, chapters=3)
    Chapter.objects.get(book=book, number=1).delete()

    second = api.get(f"/api/v1/books/{book.pk}/chapters/2/").json()
    assert (second["previous"], second["next"]) == (None, 3)


def test_progress_can_reach_every_chapter_that_exists_after_a_deletion(api, user):
    """ProgressInputSerializer compares the number with chapter_count; percent_read indexes by position."""
    book = make_book(user, chapters=3, words=50)  # 50, 100, 150 words
    Chapter.objects.get(book=book, number=1).delete()
    url = f"/api/v1/books/{book.pk}/progress/"

    assert api.get(f"/api/v1/books/{book.pk}/chapters/3/").status_code == 200
    assert api.put(url, {"chapter": 2, "position": 0.0}, format="json").json()["percent"] == 0.0
    assert api.put(url, {"chapter": 3, "position": 0.0}, format="json").status_code == 200


# --- Redis coming back: the process that missed an invalidation serves the old answer ----------


@pytest.mark.fault
def test_first_read_after_redis_returns_is_not_older_than_a_write_made_while_it_was_down(
    own_redis, api, other_api, user, settings
):
    """The breaker's probe is a read: its MGET validates the old answer before the relay ran (cache.py run/lookup_many).

    This very process recorded the missed invalidation (InvalidationLog), yet answers HIT with the old data.
    """
    book = make_book(user, title="Before", chapters=1, visibility=Visibility.PUBLIC)
    url = f"/api/v1/books/{book.pk}/"
    response_cache.relay.check()  # this process knows the server (and has applied every missed invalidation)
    warm(other_api, url)

    own_redis.stop()
    assert api.patch(url, {"title": "Written while Redis was down"}, format="json").status_code == 200
    own_redis.start()  # back with its data from disk: the old answer under the old generations
    time.sleep(settings.REDIS_CACHE_RETRY_SECONDS + 0.05)  # the breaker lets the next call probe

    response = other_api.get(url)
    assert (response["X-Cache"], response.json()["title"]) != ("HIT", "Before")
    assert response.json()["title"] == "Written while Redis was down"


# --- the Django admin's Book and Description forms --------------------------------------------


def test_cover_replaced_in_the_admin_gets_a_new_etag(api, admin_site):
    """BookAdmin lets staff upload a cover but cover_etag/cover_updated_at are read-only and never recomputed."""
    upload = SimpleUploadedFile("b.epub", epub_factory.make_epub(cover=True), content_type="application/epub+zip")
    book = Book.objects.get(pk=api.post("/api/v1/books/", {"file": upload}, format="multipart").json()["id"])
    url = f"/api/v1/books/{book.pk}/cover/"
    old_etag = api.get(url)["ETag"]
    new_image = epub_factory.PNG_1X1 + b"\x00different"

    response = admin_site.post(
        f"/admin/books/book/{book.pk}/change/",
        admin_book_form(book, cover=SimpleUploadedFile("new.png", new_image, content_type="image/png")),
    )
    assert response.status_code == 302, response.content[:2000]

    revalidated = api.get(url, HTTP_IF_NONE_MATCH=old_etag)
    assert revalidated.status_code == 200  # a browser holding the old image keeps it: 304 forever
    assert b"".join(revalidated.streaming_content) == new_image


def test_admin_refuses_a_description_whose_chapter_is_of_another_book(api, user, admin_site):
    """DescriptionAdmin saves any chapter: the passage then shows another book's chapter number."""
    book = make_book(user, title="Mine", chapters=1)
    elsewhere = make_book(user, title="Elsewhere", chapters=3)

    response = admin_site.post(
        "/admin/books/description/add/",
        {"book": book.pk, "chapter": elsewhere.chapters.get(number=3).pk, "kind": "location", "text": "Where?"},
    )

    assert response.status_code == 200  # the form shows an error instead of saving
    assert not Description.objects.filter(book=book).exists()


# --- gaps in coverage (these pass) ------------------------------------------------------------


def test_token_deleted_in_the_django_admin_is_refused_at_once(api, user, admin_site):
    """DRF's admin deletes a TokenProxy; the Token post_delete receiver must still run."""
    warm(api, "/api/v1/books/")

    response = admin_site.post(f"/admin/authtoken/tokenproxy/{user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content[:2000]

    assert api.get("/api/v1/books/").status_code == 401


def test_deleting_a_reader_retires_their_progress_on_anothers_public_book(api, other_api, user, other):
    book = make_book(user, chapters=2, visibility=Visibility.PUBLIC)
    other_api.put(f"/api/v1/books/{book.pk}/progress/", {"chapter": 2, "position": 0.5}, format="json")
    warm(api, "/api/v1/books/")
    other_token = other.auth_token.key

    other.delete()

    assert not ReadingProgress.objects.filter(book=book).exists()
    assert Client().get("/api/v1/books/", HTTP_AUTHORIZATION=f"Bearer {other_token}").status_code == 401
    assert api.get("/api/v1/books/").json()["results"][0]["progress"] is None


def test_deleting_an_owner_removes_their_public_books_from_every_list(api, other_api, user):
    book = make_book(user, chapters=1, visibility=Visibility.PUBLIC)
    DescriptionFactory(book=book, chapter=book.chapters.get())
    warm(other_api, "/api/v1/books/", f"/api/v1/books/{book.pk}/descriptions/")

    user.delete()

    assert list_ids(other_api) == []
    assert other_api.get(f"/api/v1/books/{book.pk}/descriptions/").status_code == 404
    assert not Description.objects.exists()
