"""One snapshot per answer; queryset writes retire; Redis stays bounded; big answers are not stored."""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

from books.models import Book, Chapter, Description, Visibility
from cacheadmin.cache import STATS_KEY, STATS_MINUTE_KEY, STATS_MINUTE_SECONDS, STATS_SINCE_KEY, response_cache
from reader.models import ReadingProgress
from tests import cacheadmin_support as support
from tests.conftest import client_for
from tests.factories import DescriptionFactory, UserFactory, make_book

pytestmark = pytest.mark.django_db(transaction=True)


# --- one snapshot per answer ------------------------------------------------------------------


@pytest.mark.parametrize("cache_on", [True, False], ids=["cache-on", "cache-off"])
def test_no_answer_mixes_states_under_concurrent_deletes(settings, user, cache_on):
    """Books always have chapters, descriptions and progress until they are deleted whole: an
    answer is the book as it was (200 with its rows) or gone (404), never 200 with no rows."""
    settings.REDIS_CACHE_ENABLED = cache_on
    settings.REDIS_CACHE_PREFETCH = False
    # Two threads read as fast as they can, past a person's read rate: no 429 here.
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "read": None}
    api = client_for(user)
    bad, seen = [], {"ok": 0, "gone": 0}
    deadline = time.monotonic() + 6

    def check(book_id):
        base = f"/api/v1/books/{book_id}"
        while True:
            for suffix, empty in (("/chapters/", []), ("/descriptions/", []), ("/progress/", None)):
                response = api.get(base + suffix)
                if response.status_code == 404:
                    seen["gone"] += 1
                    return
                if response.status_code != 200:
                    bad.append((suffix, response.status_code))
                    return
                data = response.json()
                if data == empty or (suffix == "/progress/" and data["updated_at"] is None):
                    bad.append((suffix, data))
                seen["ok"] += 1

    def reader(book_ids):
        try:
            for book_id in book_ids:
                check(book_id)
        finally:
            connection.close()

    rounds = 0
    while time.monotonic() < deadline and rounds < 60:
        books = []
        for _ in range(3):
            book = make_book(user, chapters=2, words=5)
            DescriptionFactory(book=book, chapter=book.chapters.get(number=1))
            ReadingProgress.objects.create(user=user, book=book, chapter=2, position=0.5, percent=50)
            books.append(book.pk)
        threads = [threading.Thread(target=reader, args=(books,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.005)
        for book_id in books:
            Book.objects.get(pk=book_id).delete()
        for thread in threads:
            thread.join(10)
        rounds += 1

    assert bad == []
    assert seen["ok"] > 0 and seen["gone"] > 0


# --- queryset writes retire what they touch ---------------------------------------------------


@pytest.fixture
def shared_book(user, other):
    book = make_book(user, chapters=2, visibility=Visibility.PUBLIC, title="Shared")
    DescriptionFactory(book=book, chapter=book.chapters.get(number=1), text="First")
    return book


def hit(client, url):
    client.get(url)
    response = client.get(url)
    assert response["X-Cache"] == "HIT", url
    return response


def test_queryset_update_of_books_retires_access_and_lists(api, other_api, shared_book):
    url = f"/api/v1/books/{shared_book.pk}/chapters/1/"
    hit(other_api, url)
    hit(other_api, "/api/v1/books/")

    Book.objects.filter(pk=shared_book.pk).update(visibility=Visibility.PRIVATE)

    assert other_api.get(url).status_code == 404
    assert other_api.get(f"/api/v1/books/{shared_book.pk}/").status_code == 404
    assert shared_book.pk not in [b["id"] for b in other_api.get("/api/v1/books/").json()["results"]]
    assert api.get(url).status_code == 200  # the owner still reads it


def test_queryset_update_moving_a_book_retires_both_owners_lists(api, other_api, user, other, shared_book):
    hit(api, "/api/v1/books/?shelf=mine")
    hit(other_api, "/api/v1/books/?shelf=mine")

    Book.objects.filter(pk=shared_book.pk).update(owner=other)

    assert api.get("/api/v1/books/?shelf=mine").json()["count"] == 0
    assert other_api.get("/api/v1/books/?shelf=mine").json()["count"] == 1


def test_bulk_update_of_chapters_retires_the_book(other_api, shared_book):
    url = f"/api/v1/books/{shared_book.pk}/chapters/2/"
    hit(other_api, url)
    chapters = list(shared_book.chapters.all())
    for chapter in chapters:
        chapter.title = f"Renamed {chapter.number}"

    Chapter.objects.bulk_update(chapters, ["title"])

    assert other_api.get(url).json()["title"] == "Renamed 2"


def test_queryset_update_of_chapters_retires_the_book(other_api, shared_book):
    url = f"/api/v1/books/{shared_book.pk}/chapters/"
    hit(other_api, url)
    Chapter.objects.filter(book=shared_book).update(title="Same")
    assert {c["title"] for c in other_api.get(url).json()} == {"Same"}


def test_bulk_create_of_chapters_retires_the_book(other_api, shared_book):
    url = f"/api/v1/books/{shared_book.pk}/chapters/"
    hit(other_api, url)
    Chapter.objects.bulk_create([Chapter(book=shared_book, number=3, title="Third")])
    assert [c["number"] for c in other_api.get(url).json()] == [1, 2, 3]


def test_queryset_delete_of_chapters_retires_the_book(other_api, shared_book):
    url = f"/api/v1/books/{shared_book.pk}/chapters/2/"
    hit(other_api, url)
    Chapter.objects.filter(book=shared_book, number=2).delete()
    assert other_api.get(url).status_code == 404


def test_queryset_writes_of_descriptions_retire_the_book(other_api, shared_book):
    url = f"/api/v1/books/{shared_book.pk}/descriptions/"
    hit(other_api, url)
    Description.objects.filter(book=shared_book).update(text="Changed")
    assert [d["text"] for d in other_api.get(url).json()] == ["Changed"]

    hit(other_api, url)
    chapter = shared_book.chapters.get(number=2)
    Description.objects.bulk_create([Description(book=shared_book, chapter=chapter, kind="mood", text="Added")])
    assert [d["text"] for d in other_api.get(url).json()] == ["Changed", "Added"]

    hit(other_api, url)
    Description.objects.filter(book=shared_book).delete()
    assert other_api.get(url).json() == []


def test_queryset_writes_of_progress_retire_the_readers_answer(api, user, shared_book):
    url = f"/api/v1/books/{shared_book.pk}/progress/"
    hit(api, url)
    ReadingProgress.objects.bulk_create([ReadingProgress(user=user, book=shared_book, chapter=2, position=0.25)])
    assert api.get(url).json()["chapter"] == 2

    hit(api, url)
    ReadingProgress.objects.filter(user=user).update(position=0.75)
    assert api.get(url).json()["position"] == 0.75

    hit(api, url)
    ReadingProgress.objects.filter(user=user).delete()
    assert api.get(url).json()["updated_at"] is None


def test_queryset_update_of_users_retires_their_cached_tokens(api, user, shared_book):
    url = f"/api/v1/books/{shared_book.pk}/"
    hit(api, url)

    get_user_model().objects.filter(pk=user.pk).update(is_active=False)

    assert api.get(url).status_code == 401
    answer = api.put(f"/api/v1/books/{shared_book.pk}/progress/", {"chapter": 1, "position": 0.1}, format="json")
    assert answer.status_code == 401


def test_queryset_delete_of_tokens_retires_them(api, user, shared_book):
    url = f"/api/v1/books/{shared_book.pk}/"
    hit(api, url)
    Token.objects.filter(user=user).delete()
    assert api.get(url).status_code == 401


def test_bulk_created_books_appear_in_cached_lists(other_api, user):
    hit(other_api, "/api/v1/books/?shelf=public")
    Book.objects.bulk_create([Book(owner=user, title="Bulk", visibility=Visibility.PUBLIC)])
    assert [b["title"] for b in other_api.get("/api/v1/books/?shelf=public").json()["results"]] == ["Bulk"]


def test_retiring_managers_keep_their_names_for_migrations():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # SystemExit(1) on a change
    assert type(get_user_model().objects).__name__ == "UserManager"
    assert type(Book.objects.all()).__name__ == "BookQuerySet"


# --- Redis stays bounded -----------------------------------------------------------------------


def test_unknown_tokens_and_missing_books_leave_nothing_that_outlives_the_dynamic_ttl(settings, user):
    book = make_book(user, chapters=2)
    api = client_for(user)
    assert api.get(f"/api/v1/books/{book.pk}/").status_code == 200  # the real token's entry is stored
    before = support.stored_under_prefix()
    for n in range(100):
        stranger = client_for(None)
        stranger.credentials(HTTP_AUTHORIZATION=f"Bearer not-a-token-{n}")
        assert stranger.get(f"/api/v1/books/{book.pk}/").status_code == 401
        assert api.get(f"/api/v1/books/{10**9 + n}/").status_code == 404
        assert api.get(f"/api/v1/books/{10**9 + n}/chapters/1/").status_code == 404
    added = support.stored_under_prefix() - before - {STATS_KEY, STATS_SINCE_KEY}  # fixed counters
    client = support.raw_redis()
    minutes = {key for key in added if key.startswith(f"{STATS_MINUTE_KEY}:")}  # the panel's last hour, bounded
    assert all(0 < client.ttl(response_cache.name(key)) <= STATS_MINUTE_SECONDS for key in minutes)
    added -= minutes
    ttls = {key: client.ttl(response_cache.name(key)) for key in added}
    assert {key: ttl for key, ttl in ttls.items() if not 0 < ttl <= settings.REDIS_CACHE_DYNAMIC_TTL} == {}
    assert not [key for key in added if key.startswith("auth:")]  # unknown tokens are answered, not stored


def test_filters_and_offsets_past_the_data_are_not_stored(api, user):
    book = make_book(user, chapters=2)
    for n in range(3, 203):
        assert api.get(f"/api/v1/books/{book.pk}/descriptions/?chapter={n}").json() == []
        assert api.get(f"/api/v1/books/?offset={n}").json()["results"] == []
    stored = support.response_keys()
    assert not any(":descriptions:" in key for key in stored)
    assert not any(":books:" in key for key in stored)

    api.get(f"/api/v1/books/{book.pk}/descriptions/?chapter=2")  # a real chapter is stored
    assert f"book:{book.pk}:descriptions:any:2" in support.response_keys()


def test_answers_over_the_entry_limit_are_served_not_stored(settings, api, user):
    settings.REDIS_CACHE_MAX_ENTRY_MB = 0.01  # 10 KiB
    book = make_book(user, chapters=1, words=5000)
    url = f"/api/v1/books/{book.pk}/chapters/1/"
    answers = [api.get(url) for _ in range(2)]
    assert [(a.status_code, a["X-Cache"]) for a in answers] == [(200, "BYPASS")] * 2
    assert answers[0].json()["word_count"] == 5000
    assert f"book:{book.pk}:chapter:1" not in support.response_keys()


# --- a retirement does not wait for the breaker ----------------------------------------------


def test_a_write_while_reads_rest_still_retires_in_redis(settings, api, other_api, user):
    settings.REDIS_CACHE_RETRY_SECONDS = 60
    book = make_book(user, chapters=1, visibility=Visibility.PUBLIC, title="Before")
    url = f"/api/v1/books/{book.pk}/"
    hit(other_api, url)
    response_cache.breaker.failed()  # this process saw a failure: its reads rest for a minute
    missed_before = response_cache.relay.pending

    assert api.patch(url, {"title": "After"}, format="json").status_code == 200

    response_cache.breaker.succeeded()  # another worker, which never rested, reads next
    response_cache.relay.pending = missed_before
    answer = other_api.get(url)
    assert (answer["X-Cache"], answer.json()["title"]) == ("MISS", "After")


def test_users_with_many_tokens_are_retired_in_one_query_per_batch(django_assert_max_num_queries):
    users = UserFactory.create_batch(5)
    with django_assert_max_num_queries(8):
        get_user_model().objects.filter(pk__in=[u.pk for u in users]).update(first_name="x")
