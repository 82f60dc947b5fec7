"""Cache administration over the API (docs/API.md, "Cache administration"), on the real Redis."""

from urllib.parse import quote

import pytest

from cacheadmin.cache import response_cache
from cacheadmin.models import WarmJob
from cacheadmin.registry import registry
from tests import cacheadmin_support as support
from tests.celery_worker import wait_for_job
from tests.conftest import client_for
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)

STATS = "/api/v1/admin/cache/stats/"
CLEAR = "/api/v1/admin/cache/clear/"
WARM = "/api/v1/admin/cache/warm/"
JOBS = "/api/v1/admin/cache/jobs/"
UNKNOWN_JOB = f"{JOBS}00000000-0000-4000-8000-000000000000/"


def clear_url(pattern):
    return f"{CLEAR}{quote(pattern, safe='')}/"


@pytest.fixture
def staff_api(staff):
    return client_for(staff)


def call(client, method, url, data=None):
    return getattr(client, method)(url, data, format="json") if data is not None else getattr(client, method)(url)


ENDPOINTS = [("get", STATS, None), ("delete", CLEAR, None), ("delete", f"{CLEAR}book:1:*/", None)]
ENDPOINTS.append(("post", WARM, {"all": True}))


# --- access ---------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url", "data"), ENDPOINTS)
def test_anonymous_is_401(anon, method, url, data):
    response = call(anon, method, url, data)
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize(("method", "url", "data"), ENDPOINTS)
def test_signed_in_but_not_staff_is_403(api, user, method, url, data):
    make_book(user)
    api.get(f"/api/v1/books/{user.books.get().pk}/")
    before = support.response_keys()
    response = call(api, method, url, data)
    assert response.status_code == 403
    assert support.response_keys() == before  # nothing cleared, nothing warmed


@pytest.mark.parametrize(("method", "url", "data"), ENDPOINTS)
def test_staff_session_is_allowed(staff, method, url, data):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(staff)
    assert call(client, method, url, data).status_code == (202 if url == WARM else 200)


@pytest.mark.parametrize("url", [UNKNOWN_JOB, f"{JOBS}not-a-job/"])
def test_job_status_needs_staff(anon, api, url):
    assert anon.get(url).status_code == 401
    assert api.get(url).status_code == 403


# --- stats ----------------------------------------------------------------------------


def test_stats_count_this_apps_reads(staff_api, api, user, settings):
    book = make_book(user)
    empty = staff_api.get(STATS).json()
    assert empty["available"] is True
    assert (empty["hits"], empty["misses"], empty["keys_count"], empty["hit_rate_percent"]) == (0, 0, 0, 0.0)

    assert api.get(f"/api/v1/books/{book.pk}/")["X-Cache"] == "MISS"
    assert api.get(f"/api/v1/books/{book.pk}/")["X-Cache"] == "HIT"
    assert api.get(f"/api/v1/books/{book.pk}/")["X-Cache"] == "HIT"
    assert api.get("/api/v1/books/")["X-Cache"] == "MISS"

    stats = staff_api.get(STATS).json()
    assert stats["hits"] == 2
    assert stats["misses"] == 2
    assert stats["hit_rate_percent"] == 50.0
    assert stats["namespaces"]["book"] == {"keys": 1, "hits": 2, "misses": 1}
    assert stats["namespaces"]["user"] == {"keys": 1, "hits": 0, "misses": 1}
    # Response keys only: not the token cache, the generations or the statistics.
    assert stats["keys_count"] == 2 == len(support.response_keys())
    assert support.other_keys()
    assert stats["ttl_seconds"] == {
        "static": settings.REDIS_CACHE_DEFAULT_TTL,
        "dynamic": settings.REDIS_CACHE_DYNAMIC_TTL,
    }
    assert isinstance(stats["memory_used_mb"], float) and stats["memory_used_mb"] > 0
    assert isinstance(stats["evictions"], int)
    assert stats["redis_version"]
    assert stats["uptime_seconds"] >= 0


def test_stats_ignore_keys_of_other_programs(staff_api, foreign):
    assert staff_api.get(STATS).json()["keys_count"] == 0


# --- clear ----------------------------------------------------------------------------


def test_clear_deletes_the_response_cache_and_nothing_else(staff_api, api, user, foreign):
    book = support.book_with_content(user)
    for url in support.book_read_urls(book):
        assert api.get(url).status_code == 200
    assert api.get("/api/v1/books/").status_code == 200
    response_cache.flush_stats()
    responses, others = support.response_keys(), support.other_keys()
    assert responses >= support.book_response_keys(book)
    assert any(key.startswith("auth:token:") for key in others)  # the token cache
    assert any(key.startswith("gen:") for key in others)
    assert support.stats_hash_exists()

    response = staff_api.delete(CLEAR)

    assert response.status_code == 200
    assert response.json() == {"deleted": len(responses)}
    assert support.response_keys() == set()
    assert support.other_keys() >= others  # tokens, generations, statistics survive
    assert support.all_exist(foreign)  # and so do other programs' keys
    assert staff_api.delete(CLEAR).json() == {"deleted": 0}
    assert api.get(f"/api/v1/books/{book.pk}/")["X-Cache"] == "MISS"


def test_clear_by_pattern_removes_only_that_books_keys(staff_api, api, user):
    mine, other = support.book_with_content(user), support.book_with_content(user)
    for url in support.book_read_urls(mine) + support.book_read_urls(other):
        api.get(url)
    assert support.response_keys() == support.book_response_keys(mine) | support.book_response_keys(other)

    response = staff_api.delete(f"{CLEAR}book:{mine.pk}:*/")

    assert response.status_code == 200
    assert response.json() == {
        "pattern": f"book:{mine.pk}:*",
        "deleted": len(support.book_response_keys(mine)),
    }
    assert support.response_keys() == support.book_response_keys(other)
    assert api.get(f"/api/v1/books/{mine.pk}/")["X-Cache"] == "MISS"
    assert api.get(f"/api/v1/books/{other.pk}/")["X-Cache"] == "HIT"


def test_clear_by_star_never_deletes_other_keys(staff_api, api, user, foreign):
    book = make_book(user)
    api.get(f"/api/v1/books/{book.pk}/")
    api.get(f"/api/v1/books/{book.pk}/progress/")
    response_cache.flush_stats()
    others = support.other_keys()

    for pattern in ("*", "auth:*", "gen:*", "stats:*", "*:lease", "otherapp:*"):
        assert staff_api.delete(clear_url(pattern)).status_code == 200

    assert support.response_keys() == set()
    assert support.other_keys() >= others
    assert support.all_exist(foreign)


def test_clear_by_pattern_of_user_keys(staff_api, api, user, other_api):
    book = make_book(user, visibility="public")
    api.get(f"/api/v1/books/{book.pk}/progress/")
    other_api.get(f"/api/v1/books/{book.pk}/progress/")
    response = staff_api.delete(clear_url(f"user:{user.pk}:*"))
    assert response.json()["deleted"] == 1
    assert support.response_keys() == {key for key in support.response_keys() if not key.startswith(f"user:{user.pk}:")}
    assert len(support.response_keys()) == 1


@pytest.mark.parametrize(
    "pattern",
    ["book:1:?", "x" * 201, "../x", "book 1", "book:[1]:*", "book:1:*/x", "book.1", "käse", "%2A"],
)
def test_invalid_pattern_is_400(staff_api, api, user, pattern):
    book = make_book(user)
    api.get(f"/api/v1/books/{book.pk}/")
    response = staff_api.delete(clear_url(pattern))
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["pattern"]
    assert support.response_keys() == {f"book:{book.pk}:metadata"}


def test_unencoded_dot_dot_pattern_is_400(staff_api):
    assert staff_api.delete(f"{CLEAR}../x/").status_code == 400


def test_longest_pattern_is_accepted(staff_api):
    response = staff_api.delete(clear_url("b" * 199 + "*"))
    assert response.status_code == 200
    assert response.json()["deleted"] == 0


# --- warm -----------------------------------------------------------------------------


def warm(client, body, timeout=60):
    """POST warm: 202 at once; then the job's final status, once the worker has run it."""
    response = client.post(WARM, body, format="json")
    assert response.status_code == 202, response.content
    return wait_for_job(client, response.json()["status_url"], timeout)


def test_warm_answers_202_with_the_jobs_status_url(staff_api, user, celery_worker):
    book = make_book(user, chapters=1)
    response = staff_api.post(WARM, {"books": [book.pk]}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"job", "status_url"}
    assert body["status_url"] == f"http://testserver{JOBS}{body['job']}/"
    assert response["Location"] == body["status_url"]
    job = WarmJob.objects.get(pk=body["job"])
    assert (job.book_ids, job.all_books) == ([book.pk], False)
    wait_for_job(staff_api, body["status_url"])


def test_warm_makes_the_next_reads_hits(staff_api, api, user, celery_worker):
    book = support.book_with_content(user)
    status = warm(staff_api, {"books": [book.pk]})

    expected = support.book_response_keys(book)
    assert {key: status[key] for key in ("state", "books_total", "books_done", "keys", "error")} == {
        "state": "done",
        "books_total": 1,
        "books_done": 1,
        "keys": len(expected),
        "error": None,
    }
    assert status["started_at"] and status["finished_at"] and status["started_at"] <= status["finished_at"]
    assert support.response_keys() == expected
    for url in support.book_read_urls(book):
        read = api.get(url)
        assert read.status_code == 200
        assert read["X-Cache"] == "HIT", url


def test_job_status_answers_the_contracts_fields(staff_api, user, celery_worker):
    book = make_book(user, chapters=1)
    job = staff_api.post(WARM, {"books": [book.pk]}, format="json").json()["job"]
    status = wait_for_job(staff_api, f"{JOBS}{job}/")
    keys = {"job", "state", "books_total", "books_done", "keys", "error", "started_at", "finished_at"}
    assert set(status) == keys
    assert status["job"] == job


def test_warmed_bodies_are_the_ones_the_views_serve(staff_api, api, user, celery_worker):
    book = support.book_with_content(user)
    urls = support.book_read_urls(book)
    served = [api.get(url).content for url in urls]
    staff_api.delete(CLEAR)
    warm(staff_api, {"books": [book.pk]})
    warmed = [api.get(url) for url in urls]
    assert [r["X-Cache"] for r in warmed] == ["HIT"] * len(urls)
    assert [r.content for r in warmed] == served


def test_warm_twice_writes_nothing_new(staff_api, user, celery_worker):
    book = make_book(user, chapters=2)
    assert warm(staff_api, {"books": [book.pk]})["keys"] == len(support.book_response_keys(book))
    assert warm(staff_api, {"books": [book.pk]})["keys"] == 0


def test_warm_all(staff_api, api, user, other, celery_worker):
    first, second = make_book(user, chapters=1), make_book(other, chapters=2)
    status = warm(staff_api, {"all": True})
    assert (status["state"], status["books_total"], status["books_done"], status["keys"]) == ("done", 2, 2, 5 + 6)
    assert api.get(f"/api/v1/books/{first.pk}/chapters/1/")["X-Cache"] == "HIT"
    assert support.book_response_keys(second) <= support.response_keys()


def test_warm_skips_books_that_do_not_exist(staff_api, user, celery_worker):
    book = make_book(user, chapters=1)
    status = warm(staff_api, {"books": [book.pk, book.pk + 1000]})
    assert (status["state"], status["books_total"], status["keys"]) == ("done", 1, 5)
    assert WarmJob.objects.get(pk=status["job"]).missing == [book.pk + 1000]


def test_warm_of_a_private_book_still_hides_it_from_others(staff_api, other_api, user, celery_worker):
    book = make_book(user)
    warm(staff_api, {"books": [book.pk]})
    assert other_api.get(f"/api/v1/books/{book.pk}/").status_code == 404


def test_a_job_records_who_asked(staff_api, staff, user, celery_worker):
    book = make_book(user, chapters=1)
    job = warm(staff_api, {"books": [book.pk]})["job"]
    assert WarmJob.objects.get(pk=job).requested_by == staff


@pytest.mark.parametrize("url", [UNKNOWN_JOB, f"{JOBS}not-a-job/", f"{JOBS}12345/"])
def test_unknown_job_is_404(staff_api, url):
    response = staff_api.get(url)
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"books": []},
        {"all": False},
        {"books": [1], "all": True},
        {"books": ["x"]},
        {"books": [0]},
        {"books": 1},
        [1, 2],
        "all",
    ],
)
def test_warm_body_that_is_neither_books_nor_all_is_400(staff_api, body):
    response = staff_api.post(WARM, body, format="json")
    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert not WarmJob.objects.exists()


def test_warm_with_malformed_json_is_400(staff_api):
    response = staff_api.post(WARM, "{nope", content_type="application/json")
    assert response.status_code == 400


# --- Redis unreachable ----------------------------------------------------------------


def test_stats_answer_unavailable_while_redis_is_down(staff_api, redis_down):
    response = staff_api.get(STATS)
    assert response.status_code == 200
    stats = response.json()
    assert stats["available"] is False
    assert stats["keys_count"] is None
    assert set(stats["namespaces"]) == set(registry.namespaces)
    assert "ttl_seconds" in stats


@pytest.mark.parametrize(("method", "url", "data"), [("delete", CLEAR, None), ("delete", f"{CLEAR}book:1:*/", None)])
def test_clear_answers_503_while_redis_is_down(staff_api, redis_down, method, url, data):
    response = call(staff_api, method, url, data)
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]


def test_warm_answers_503_while_redis_is_down(staff_api, user, redis_down):
    book = make_book(user)
    for body in ({"books": [book.pk]}, {"all": True}):
        response = staff_api.post(WARM, body, format="json")
        assert response.status_code == 503
        assert "unreachable" in response.json()["detail"]
    assert not WarmJob.objects.exists()  # checked before anything is enqueued


def test_other_endpoints_keep_working_while_redis_is_down(staff_api, api, user, redis_down):
    book = make_book(user)
    assert staff_api.delete(clear_url("book:1:?")).status_code == 400  # validated first
    read = api.get(f"/api/v1/books/{book.pk}/")
    assert read.status_code == 200
    assert read["X-Cache"] == "BYPASS"


def test_cache_turned_off_answers_503_with_a_message(staff_api, settings):
    settings.REDIS_CACHE_ENABLED = False
    assert staff_api.get(STATS).json()["available"] is False
    response = staff_api.delete(CLEAR)
    assert response.status_code == 503
    assert "turned off" in response.json()["detail"]
