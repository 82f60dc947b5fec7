"""What every request pays for: Django's message storage only when a request uses messages."""

import pytest
from django.contrib import messages
from django.http import HttpResponse
from django.utils.functional import empty

from cacheadmin.middleware import LazyMessageMiddleware

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
