"""The six cached reads: HIT/MISS/BYPASS, ETags, zero-SQL hits, access on every hit."""

import pytest
from django.core.cache import cache

from books.models import Visibility
from tests.conftest import APIClient, client_for
from tests.factories import DescriptionFactory, make_book

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def book(user):
    book = make_book(user, title="Cached", chapters=3, visibility=Visibility.PUBLIC)
    DescriptionFactory(book=book, chapter=book.chapters.get(number=1))
    return book


def read_urls(book):
    base = f"/api/v1/books/{book.pk}"
    return {
        "book list": "/api/v1/books/",
        "book": f"{base}/",
        "chapter list": f"{base}/chapters/",
        "chapter": f"{base}/chapters/2/",
        "progress": f"{base}/progress/",
        "descriptions": f"{base}/descriptions/",
    }


READS = ["book list", "book", "chapter list", "chapter", "progress", "descriptions"]
LOGICAL_KEYS = {
    "book list": "user:{user}:books:all:0:20",
    "book": "book:{book}:metadata",
    "chapter list": "book:{book}:chapters:list",
    "chapter": "book:{book}:chapter:2",
    "progress": "user:{user}:progress:{book}",
    "descriptions": "book:{book}:descriptions:any:any",
}


@pytest.mark.parametrize("read", READS)
def test_miss_then_hit_with_the_same_body_and_etag(api, book, user, read):
    url = read_urls(book)[read]
    first = api.get(url)
    second = api.get(url)

    assert (first.status_code, first["X-Cache"]) == (200, "MISS")
    assert (second.status_code, second["X-Cache"]) == (200, "HIT")
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]
    assert cache.has_key(LOGICAL_KEYS[read].format(user=user.pk, book=book.pk))


@pytest.mark.parametrize("read", READS)
def test_if_none_match_answers_304_without_body(api, book, read):
    url = read_urls(book)[read]
    etag = api.get(url)["ETag"]

    response = api.get(url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert api.get(url, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


@pytest.mark.parametrize("read", READS)
def test_warm_hit_runs_no_sql_authentication_included(api, book, read, django_assert_num_queries):
    url = read_urls(book)[read]
    api.get(url)
    api.get(f"/api/v1/books/{book.pk}/chapters/3/")  # what chapter 2 prefetches

    with django_assert_num_queries(0):
        response = api.get(url)

    assert response["X-Cache"] == "HIT"


@pytest.mark.parametrize("read", READS)
def test_cache_off_answers_bypass_with_the_same_data(api, book, read, settings):
    url = read_urls(book)[read]
    cached = api.get(url).json()
    settings.REDIS_CACHE_ENABLED = False

    response = api.get(url)

    assert response["X-Cache"] == "BYPASS"
    assert response.json() == cached


def test_private_book_hit_is_404_for_others(api, user, other):
    book = make_book(user, visibility=Visibility.PRIVATE)
    stranger = client_for(other)
    for url in list(read_urls(book).values())[1:]:
        assert api.get(url).status_code == 200  # now cached
        response = stranger.get(url)
        assert response.status_code == 404, url
        assert "Cached" not in response.content.decode()


def test_book_made_private_is_gone_for_others_at_once(api, other_api, book):
    urls = list(read_urls(book).values())[1:]
    for url in urls:
        assert other_api.get(url).status_code == 200
        assert other_api.get(url)["X-Cache"] == "HIT"

    assert api.patch(f"/api/v1/books/{book.pk}/", {"visibility": "private"}, format="json").status_code == 200

    for url in urls:
        assert other_api.get(url).status_code == 404, url
    assert book.pk not in [b["id"] for b in other_api.get("/api/v1/books/").json()["results"]]


def test_serving_a_chapter_prefetches_the_next(api, book):
    api.get(f"/api/v1/books/{book.pk}/chapters/1/")

    assert cache.has_key(f"book:{book.pk}:chapter:2")
    assert api.get(f"/api/v1/books/{book.pk}/chapters/2/")["X-Cache"] == "HIT"
    assert not cache.has_key(f"book:{book.pk}:chapter:4")


def test_missing_chapter_is_404_remembered_for_the_dynamic_ttl_only_until_it_exists(api, book, settings):
    """ "No such chapter" is stored like an answer (a 404 for a missing object then costs what a
    404 for an unreadable one does), for the dynamic TTL, and retired like any answer."""
    from books.models import Chapter

    url = f"/api/v1/books/{book.pk}/chapters/9/"
    assert api.get(url).status_code == 404
    assert api.get(url).status_code == 404
    assert 0 < cache.ttl(f"book:{book.pk}:chapter:9") <= settings.REDIS_CACHE_DYNAMIC_TTL
    chapter = Chapter(book=book, number=9, title="Nine")
    chapter.set_content("<p>Written later.</p>")
    chapter.save()
    assert api.get(url).status_code == 200


def test_token_user_is_cached_and_a_deleted_token_is_refused_at_once(api, user, book, django_assert_num_queries):
    url = f"/api/v1/books/{book.pk}/"
    api.get(url)
    with django_assert_num_queries(0):
        assert api.get(url).status_code == 200

    user.auth_token.delete()

    assert api.get(url).status_code == 401


def test_deactivated_user_is_refused_at_once(api, user, book):
    url = f"/api/v1/books/{book.pk}/"
    assert api.get(url).status_code == 200

    user.is_active = False
    user.save()

    assert api.get(url).status_code == 401


def test_unknown_token_is_401_even_when_remembered(book):
    from tests.conftest import APIClient

    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Bearer " + "0" * 40)
    assert stranger.get(f"/api/v1/books/{book.pk}/").status_code == 401
    assert stranger.get(f"/api/v1/books/{book.pk}/").status_code == 401


def test_token_keyword_and_session_sign_in_are_served_from_the_cache_too(user, book):
    url = f"/api/v1/books/{book.pk}/chapters/1/"
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    session_client = APIClient()
    session_client.force_login(user)

    assert token_client.get(url)["X-Cache"] == "MISS"
    assert token_client.get(url)["X-Cache"] == "HIT"
    response = session_client.get(url, HTTP_ACCEPT="application/json")
    assert (response.status_code, response["X-Cache"]) == (200, "HIT")


def test_browsable_api_renders_the_cached_answer(api, book):
    json_body = api.get(f"/api/v1/books/{book.pk}/").json()

    response = api.get(f"/api/v1/books/{book.pk}/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["X-Cache"] == "HIT"
    assert json_body["title"] in response.content.decode()


def test_the_browsable_page_never_carries_the_json_answers_etag(api, book):
    """Two representations, two validators: the HTML page is not the JSON body the ETag names."""
    url = f"/api/v1/books/{book.pk}/"
    etag = api.get(url)["ETag"]
    page = api.get(url, HTTP_ACCEPT="text/html", HTTP_IF_NONE_MATCH=etag)
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "ETag" not in page
    assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304  # the JSON answer still revalidates


@pytest.mark.parametrize("accept", ["text/html", "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_a_named_format_and_errors_are_json_for_a_browser_too(api, other_api, user, accept):
    """docs/API.md: `?format=json` forces JSON, and every error of the API is JSON."""
    book = make_book(user, title="Diary")
    forced = api.get(f"/api/v1/books/{book.pk}/?format=json", HTTP_ACCEPT=accept)
    assert forced.status_code == 200 and forced["Content-Type"] == "application/json"
    assert forced.json()["title"] == "Diary"
    hidden = other_api.get(f"/api/v1/books/{book.pk}/", HTTP_ACCEPT=accept)
    assert hidden.status_code == 404 and hidden["Content-Type"] == "application/json"
    assert "detail" in hidden.json()
    anonymous = APIClient().get("/api/v1/books/", HTTP_ACCEPT=accept)
    assert anonymous.status_code == 401 and anonymous.json()["detail"]


def test_browsable_api_never_shows_a_private_answer_to_others(api, other_api, user):
    book = make_book(user, title="Diary")
    api.get(f"/api/v1/books/{book.pk}/")

    response = other_api.get(f"/api/v1/books/{book.pk}/", HTTP_ACCEPT="text/html")

    assert response.status_code == 404
    assert "Diary" not in response.content.decode()


def test_bad_query_on_a_cached_read_is_400_not_a_hit(api, book):
    api.get("/api/v1/books/")
    assert api.get("/api/v1/books/?shelf=nonsense").status_code == 400
    assert api.get(f"/api/v1/books/{book.pk}/descriptions/?kind=smell").status_code == 400


@pytest.mark.parametrize(
    "query", ["chapter=0", "chapter=-1", "chapter=x", "chapter=99999999999999999999", "kind=smell"]
)
def test_description_filters_are_checked_on_hits_and_misses(api, book, query):
    url = f"/api/v1/books/{book.pk}/descriptions/"
    api.get(url)

    response = api.get(f"{url}?{query}")

    assert response.status_code == 400
    assert set(response.json()) <= {"kind", "chapter"}


def test_description_filters_have_keys_of_their_own(api, book, user):
    url = f"/api/v1/books/{book.pk}/descriptions/"
    assert len(api.get(url).json()) == 1
    assert api.get(f"{url}?chapter=2").json() == []
    assert api.get(f"{url}?chapter=1&kind=location")["X-Cache"] == "MISS"
    assert api.get(f"{url}?chapter=1&kind=location")["X-Cache"] == "HIT"
    assert cache.has_key(f"book:{book.pk}:descriptions:location:1")


@pytest.mark.parametrize("garbage", [b"\xc1not msgpack", b"\x93\x01\x02\x03", b"plain text"])
def test_an_unreadable_stored_answer_is_a_miss_not_a_500(api, book, garbage):
    url = f"/api/v1/books/{book.pk}/"
    api.get(url)
    cache.client.get_client().set(cache.make_key(f"book:{book.pk}:metadata"), garbage)

    response = api.get(url)

    assert (response.status_code, response["X-Cache"]) == (200, "MISS")
    assert response.json()["title"] == "Cached"
    assert api.get(url)["X-Cache"] == "HIT"


def test_per_user_hits_follow_a_token_that_changed_hands(api, user, other, book, django_assert_num_queries):
    url = f"/api/v1/books/{book.pk}/progress/"
    api.put(url, {"chapter": 3, "position": 0.5}, format="json")
    assert api.get(url).json()["chapter"] == 3
    assert api.get(url)["X-Cache"] == "HIT"

    other.auth_token.delete()  # one token per user
    token = user.auth_token
    token.user = other
    token.save()

    for _ in range(3):  # the new holder's own progress, never the old one's
        response = api.get(url)
        assert response.json()["chapter"] == 1
    assert response["X-Cache"] == "HIT"
    with django_assert_num_queries(0):
        assert api.get(url)["X-Cache"] == "HIT"


@pytest.mark.parametrize("read", READS)
def test_every_read_is_served_from_redis_with_zlib_compression_too(settings, api, book, read):
    """REDIS_CACHE_COMPRESS: answers are stored compressed, and a hit decompresses them
    (cacheadmin.cache.decode_entry)."""
    options = {**settings.CACHES["default"]["OPTIONS"], "COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor"}
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "OPTIONS": options}}
    url = read_urls(book)[read]
    first = api.get(url)
    second = api.get(url)
    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
    assert second.content == first.content and second["ETag"] == first["ETag"]
