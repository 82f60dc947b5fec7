"""What every request pays for, kept small without changing any response: Django's message storage only
when a request uses messages; no cache alias a request thread opens (Django closes each after every
request); a stored answer's headers made at once (cacheadmin.responses.StoredAnswer)."""

import threading

import pytest
from django.contrib import messages
from django.core.cache import caches
from django.db import connections
from django.http import HttpResponse
from django.utils.functional import empty

from cacheadmin.middleware import LazyMessageMiddleware
from cacheadmin.responses import CachedReadMixin
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_api_request_never_builds_the_message_storage(api):
    response = api.get("/api/v1/books/")
    assert response.status_code == 200
    assert response.wsgi_request._messages._wrapped is empty
    assert "messages" not in response.cookies


def test_a_message_added_is_stored_and_read_on_the_next_request(rf, settings):
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
    middleware = LazyMessageMiddleware(lambda request: None)
    first = rf.get("/")
    middleware.process_request(first)
    messages.success(first, "Cleared 3 answers.")
    response = middleware.process_response(first, HttpResponse())
    assert "messages" in response.cookies

    second = rf.get("/", HTTP_COOKIE=f"messages={response.cookies['messages'].value}")
    middleware.process_request(second)
    assert [str(message) for message in messages.get_messages(second)] == ["Cleared 3 answers."]


ALLOWED = {  # each cached view's methods, HEAD with GET (Django's View.setup adds it)
    "": "GET, POST, HEAD, OPTIONS",
    "{book}/": "GET, PUT, PATCH, DELETE, HEAD, OPTIONS",
    "{book}/chapters/": "GET, HEAD, OPTIONS",
    "{book}/chapters/1/": "GET, PATCH, HEAD, OPTIONS",
    "{book}/progress/": "GET, POST, PUT, HEAD, OPTIONS",
    "{book}/descriptions/": "GET, POST, HEAD, OPTIONS",
    "{book}/toc/": "GET, HEAD, OPTIONS",
}


def cached_view_classes():
    from books import views as books_views
    from reader import views as reader_views

    views = [*vars(books_views).values(), *vars(reader_views).values()]
    return [view for view in views if isinstance(view, type) and issubclass(view, CachedReadMixin)]


def test_a_stored_answer_has_the_headers_drf_and_django_would_give_it(api, user):
    """A stored answer skips DRF's finalize_response and Django's header checks: its headers must
    still be those DRF gives every response of the view (OPTIONS goes through DRF's own path),
    with the view's methods, HEAD included, even when the first to ask for them was the schema
    (drf-spectacular reads them from instances Django never set up, which have no `head`)."""
    for view in cached_view_classes():
        view.__dict__.get("_shared_parts", {}).clear()  # as in a process that just started
    assert api.get("/api/schema/").status_code == 200
    book = make_book(user, chapters=2)
    for path, allowed in ALLOWED.items():
        url = "/api/v1/books/" + path.format(book=book.pk)
        miss, hit, options = api.get(url), api.get(url), api.options(url)
        assert (miss["X-Cache"], hit["X-Cache"]) == ("MISS", "HIT"), url
        assert options["Allow"] == allowed, url
        for answer in (miss, hit):
            assert answer["Allow"] == allowed, url
            assert answer["Vary"] == options["Vary"] == "Accept", url
            assert answer["Content-Type"] == "application/json", url
            assert answer["Content-Length"] == str(len(answer.content)), url
            assert answer["Cache-Control"] == "private", url
            assert answer["ETag"] == miss["ETag"], url
            for name in ("X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"):  # Django's middleware
                assert answer[name] == options[name], (url, name)
        assert sorted(hit.headers) == sorted(miss.headers), url
        head = api.head(url)
        assert (head.status_code, head["Allow"], head["Content-Length"]) == (200, allowed, hit["Content-Length"])


def test_serving_requests_opens_no_cache_alias_in_the_request_thread(api, user):
    """Django closes every cache a thread has opened after each request it serves: a call that
    does nothing for django-redis, which every hit would pay. The response cache and the
    throttles use instances of their own (same Redis, same connection pools): reads, counted in
    the look-ahead, and a write, counted and retired on its own, leave none open."""
    book = make_book(user)
    opened, statuses = [], []

    def serve():
        try:
            for _ in range(3):
                statuses.append(api.get(f"/api/v1/books/{book.pk}/").status_code)
            statuses.append(api.patch(f"/api/v1/books/{book.pk}/", {"title": "Renamed"}, format="json").status_code)
            statuses.append(api.get(f"/api/v1/books/{book.pk}/")["X-Cache"])
            opened.extend(caches.all(initialized_only=True))
        finally:
            connections.close_all()  # this thread's own

    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    assert statuses == [200, 200, 200, 200, "MISS"]  # the write retired the answer
    assert opened == []
    throttle = caches["throttle"]
    assert int(throttle.client.get_client().get(throttle.make_key(f"throttle:read:{user.pk}"))) == 4
    assert throttle.client.get_client().get(throttle.make_key(f"throttle:write:{user.pk}")) == b"1"


def test_a_stored_header_value_with_a_line_break_is_refused_as_django_refuses_it():
    from django.http import BadHeaderError

    from cacheadmin.responses import StoredAnswer

    answer = StoredAnswer(b"{}", {"ETag": '"abc"', "X-Cache": "HIT"})
    assert (answer["ETag"], answer["X-Cache"], answer["Content-Type"]) == ('"abc"', "HIT", "application/json")
    with pytest.raises(BadHeaderError):
        StoredAnswer(b"{}", {"ETag": '"abc"\r\nSet-Cookie: stolen=1'})
