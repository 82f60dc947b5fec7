"""Two devices of one reader: If-Match on progress writes (API.md, "Reading progress")."""

import threading

import pytest
from django.db import connections

from reader.models import ReadingProgress
from tests.conftest import client_for
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def book(user):
    return make_book(user, chapters=5)


@pytest.fixture
def url(book):
    return f"/api/v1/books/{book.pk}/progress/"


def put(client, url, chapter, etag=None, method="put"):
    extra = {"HTTP_IF_MATCH": etag} if etag is not None else {}
    return getattr(client, method)(url, {"chapter": chapter, "position": 0.5}, format="json", **extra)


def test_a_write_with_the_etag_just_read_is_stored(api, url):
    read = api.get(url)
    response = put(api, url, 2, read["ETag"])
    assert response.status_code == 200
    assert response.json()["chapter"] == 2
    assert response["Cache-Control"] == "private"
    # The answer's ETag is the one the next read answers with: a device can chain its writes.
    again = api.get(url)
    assert again["ETag"] == response["ETag"]
    assert put(api, url, 3, response["ETag"]).status_code == 200


def test_a_write_after_another_device_wrote_is_412_with_the_current_progress(api, user, url):
    phone, tablet = api, client_for(user)
    seen_by_tablet = tablet.get(url)["ETag"]
    assert put(phone, url, 4).status_code == 200  # the phone reads on, without If-Match

    refused = put(tablet, url, 2, seen_by_tablet)

    assert refused.status_code == 412
    assert refused.json()["chapter"] == 4
    assert set(refused.json()) == {"book_id", "chapter", "position", "cfi", "percent", "updated_at"}
    current = phone.get(url)
    assert refused["ETag"] == current["ETag"]
    assert current.json()["chapter"] == 4  # nothing stored
    assert put(tablet, url, 2, refused["ETag"]).status_code == 200  # with what it now knows


@pytest.mark.parametrize("method", ["put", "post"])
def test_both_write_methods_check_if_match(api, url, method):
    stale = api.get(url)["ETag"]
    put(api, url, 3, method=method)
    assert put(api, url, 2, stale, method=method).status_code == 412


def test_without_if_match_the_last_write_wins(api, url):
    api.get(url)
    put(api, url, 2)
    assert put(api, url, 3).status_code == 200
    assert api.get(url).json()["chapter"] == 3


def test_the_etag_of_the_progress_before_any_write_works(api, url):
    fresh = api.get(url)
    assert fresh.json()["updated_at"] is None
    assert put(api, url, 2, fresh["ETag"]).status_code == 200
    assert put(api, url, 3, fresh["ETag"]).status_code == 412


@pytest.mark.parametrize("header", ["*", "W/{etag}", '"nope", {etag}'])
def test_if_match_forms_that_match(api, url, header):
    etag = api.get(url)["ETag"]
    assert put(api, url, 2, header.format(etag=etag)).status_code == 200


@pytest.mark.parametrize("header", ['"0123"', "garbage", ""])
def test_if_match_that_names_no_current_etag_is_412(api, url, header):
    api.get(url)
    response = put(api, url, 2, header)
    assert response.status_code == 412
    assert response.json()["chapter"] == 1


def test_a_cached_etag_matches_the_database(api, url):
    """The ETag of a HIT is the ETag of the stored answer: it must still match the row."""
    api.get(url)
    hit = api.get(url)
    assert hit["X-Cache"] == "HIT"
    assert put(api, url, 2, hit["ETag"]).status_code == 200


def test_an_invalid_write_is_400_before_any_precondition(api, url):
    api.get(url)
    response = api.put(url, {"chapter": 99, "position": 0.5}, format="json", HTTP_IF_MATCH='"old"')
    assert response.status_code == 400


def test_two_devices_writing_at_once_with_the_same_etag_one_wins(api, user, url, book):
    etag = api.get(url)["ETag"]
    answers, start = [], threading.Barrier(2)

    def device(chapter):
        client = client_for(user)
        start.wait()
        answers.append((chapter, put(client, url, chapter, etag).status_code))
        connections.close_all()

    threads = [threading.Thread(target=device, args=(chapter,)) for chapter in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(code for _, code in answers) == [200, 412]
    winner = next(chapter for chapter, code in answers if code == 200)
    assert ReadingProgress.objects.get(user=user, book=book).chapter == winner


def test_another_readers_progress_is_not_a_precondition(api, other_api, user, url, book):
    book.visibility = "public"
    book.save()
    mine = api.get(url)["ETag"]
    assert put(other_api, url, 4).status_code == 200
    assert put(api, url, 2, mine).status_code == 200
