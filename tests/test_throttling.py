"""Throttles (API.md, "Limits and abuse protection"): sign-in, registration, reads, writes, uploads.

Counters live in the real Redis under the throttle alias's own prefix; while that Redis is
unreachable each process counts in memory. Every test starts with every counter at zero
(conftest), and sets small rates of its own.
"""

import time

import pytest
from django.core.cache import caches
from django.test import Client
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from books.models import Visibility
from cacheadmin import operations, throttling
from tests.conftest import client_for
from tests.factories import UserFactory, make_book
from tests.redis_server import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "/api/v1/auth/token/"
REGISTER = "/api/v1/auth/register/"
ADMIN_LOGIN = "/admin/login/"
PASSWORD = "a-long-passphrase-1"  # what UserFactory sets
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def rates(settings):
    """Small rates for the test; set(scope=rate) changes them."""
    settings.THROTTLE_RATES = {
        "sign_in": "100/min",
        "register": "100/min",
        "sign_in_user": "100/hour",
        "read": "1000/min",
        "write": "1000/min",
        "upload": "1000/hour",
    }

    def set_rates(**changes):
        settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, **changes}

    return set_rates


def from_address(address, **extra):
    return {"REMOTE_ADDR": address, **extra}


def assert_throttled(response):
    assert response.status_code == 429, (response.status_code, response.content[:200])
    assert int(response["Retry-After"]) >= 1
    assert response["Content-Type"].startswith("application/json")
    assert "throttled" in response.json()["detail"].lower()


def sign_in(client, username, password="wrong-password", **extra):
    return client.post(TOKEN, {"username": username, "password": password}, format="json", **extra)


def throttle_keys():
    cache = caches["throttle"]
    head = cache.make_key("")
    names = get_redis_connection("throttle").scan_iter(match=cache.client.make_pattern("*"), count=1000)
    return {name.decode()[len(head) :]: name for name in names}


# --- sign-in ---------------------------------------------------------------------------


def test_password_guessing_from_one_address_is_throttled_even_with_the_right_password(anon, user, rates):
    rates(sign_in="5/min")
    answers = [sign_in(anon, user.username).status_code for _ in range(5)]
    assert answers == [400] * 5
    assert_throttled(sign_in(anon, user.username))
    assert_throttled(sign_in(anon, user.username, PASSWORD))  # refused before the password is checked
    assert sign_in(anon, user.username, PASSWORD, **from_address("10.0.0.9")).status_code == 200


def test_guessing_one_username_from_many_addresses_is_throttled(anon, user, other, rates):
    rates(sign_in_user="4/hour")
    for n in range(4):
        assert sign_in(anon, user.username, **from_address(f"10.0.1.{n}")).status_code == 400
    assert_throttled(sign_in(anon, user.username, PASSWORD, **from_address("10.0.1.99")))
    assert_throttled(sign_in(anon, user.username.upper(), PASSWORD, **from_address("10.0.1.98")))
    assert sign_in(anon, other.username, PASSWORD, **from_address("10.0.1.97")).status_code == 200


def test_retry_after_counts_down_to_the_end_of_the_window(anon, user, rates):
    rates(sign_in="1/min")
    sign_in(anon, user.username)
    first = sign_in(anon, user.username)
    assert_throttled(first)
    assert 55 <= int(first["Retry-After"]) <= 60


def test_registration_is_limited_per_address(anon, rates):
    rates(register="3/min")
    for n in range(3):
        response = anon.post(REGISTER, {"username": f"bot{n}", "password": "correct horse battery"}, format="json")
        assert response.status_code == 201
    refused = anon.post(REGISTER, {"username": "bot9", "password": "correct horse battery"}, format="json")
    assert_throttled(refused)
    assert not get_user_model_names() & {"bot9"}
    elsewhere = anon.post(
        REGISTER, {"username": "human", "password": "correct horse battery"}, format="json", **from_address("10.0.2.1")
    )
    assert elsewhere.status_code == 201


def get_user_model_names():
    from django.contrib.auth import get_user_model

    return set(get_user_model().objects.values_list("username", flat=True))


def test_the_forwarded_address_counts_only_behind_trusted_proxies(anon, user, rates, settings):
    rates(sign_in="2/min")
    # No trusted proxy: X-Forwarded-For is the client's to write, and changes nothing.
    for n in range(2):
        sign_in(anon, user.username, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert_throttled(sign_in(anon, user.username, HTTP_X_FORWARDED_FOR="203.0.113.50"))

    # One trusted proxy: the address it appended is the client's; what the client wrote before it is not.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for n in range(2):
        assert sign_in(anon, user.username, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.7").status_code == 400
    assert_throttled(sign_in(anon, user.username, HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.7"))
    assert sign_in(anon, user.username, HTTP_X_FORWARDED_FOR="1.2.3.0, 198.51.100.8").status_code == 400


def test_ipv6_clients_count_per_64_block(anon, user, rates):
    rates(sign_in="2/min")
    sign_in(anon, user.username, **from_address("2001:db8:1:2::1"))
    sign_in(anon, user.username, **from_address("2001:db8:1:2:ffff::7"))
    assert_throttled(sign_in(anon, user.username, **from_address("2001:db8:1:2:abcd::9")))
    assert sign_in(anon, user.username, **from_address("2001:db8:1:3::1")).status_code == 400


def test_admin_login_is_throttled_per_address_and_per_username(user, rates):
    rates(sign_in="3/min", sign_in_user="5/hour")
    browser = Client(enforce_csrf_checks=False)
    for _ in range(3):
        assert browser.post(ADMIN_LOGIN, {"username": user.username, "password": "nope"}).status_code == 200
    refused = browser.post(ADMIN_LOGIN, {"username": user.username, "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert refused["Content-Type"].startswith("text/html")
    assert b"Too many sign-in attempts" in refused.content

    # The same username from other addresses: the per-username count (5) runs out too.
    elsewhere = Client(REMOTE_ADDR="10.0.3.1")
    assert elsewhere.post(ADMIN_LOGIN, {"username": user.username, "password": "nope"}).status_code == 200
    assert elsewhere.post(ADMIN_LOGIN, {"username": user.username, "password": "nope"}).status_code == 429
    # The API's sign-in shares the per-username count with the admin's.
    assert_throttled(sign_in(APIClient(), user.username, PASSWORD, **from_address("10.0.3.2")))
    assert Client().get(ADMIN_LOGIN).status_code == 200  # showing the form is not an attempt


def test_a_staff_member_still_signs_in_to_the_admin_below_the_rate(rates):
    rates(sign_in="3/min")
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    browser = Client()
    response = browser.post(ADMIN_LOGIN, {"username": "boss", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    assert browser.get("/admin/").status_code == 200


# --- signed-in rates -------------------------------------------------------------------


def test_reads_beyond_the_rate_are_refused_and_other_users_keep_reading(api, other_api, user, rates):
    rates(read="5/min")
    books = [make_book(user, visibility=Visibility.PUBLIC, chapters=1) for _ in range(6)]
    for book in books[:5]:
        assert api.get(f"/api/v1/books/{book.pk}/").status_code == 200  # misses: DRF's path
    assert_throttled(api.get(f"/api/v1/books/{books[5].pk}/"))
    assert other_api.get(f"/api/v1/books/{books[5].pk}/").status_code == 200


def test_cached_hits_of_a_browser_session_count_like_any_read(user, rates):
    rates(read="4/min")
    book = make_book(user, chapters=1)
    browser = APIClient()
    browser.force_login(user)
    url = f"/api/v1/books/{book.pk}/"
    outcomes = [browser.get(url, HTTP_ACCEPT="application/json")["X-Cache"] for _ in range(4)]
    assert outcomes == ["MISS", "HIT", "HIT", "HIT"]
    assert_throttled(browser.get(url, HTTP_ACCEPT="application/json"))


def test_cached_hits_with_a_token_count_like_any_read(api, user, rates):
    rates(read="4/min")
    book = make_book(user, chapters=1)
    url = f"/api/v1/books/{book.pk}/"
    outcomes = [api.get(url)["X-Cache"] for _ in range(4)]
    assert outcomes == ["MISS", "HIT", "HIT", "HIT"]
    assert_throttled(api.get(url))


def test_cached_per_user_hits_with_a_token_count_like_any_read(api, user, rates):
    rates(read="3/min")
    make_book(user, chapters=1)
    for _ in range(3):
        assert api.get("/api/v1/books/").status_code == 200
    assert_throttled(api.get("/api/v1/books/"))


def test_writes_beyond_the_rate_are_refused_and_nothing_is_stored(api, user, rates):
    rates(write="3/min")
    book = make_book(user, chapters=3)
    url = f"/api/v1/books/{book.pk}/progress/"
    for chapter in (1, 2, 3):
        assert api.put(url, {"chapter": chapter, "position": 0.5}, format="json").status_code == 200
    assert_throttled(api.put(url, {"chapter": 1, "position": 0.1}, format="json"))
    assert api.get(url).json()["chapter"] == 3
    assert api.get(url).status_code == 200  # reads have a rate of their own


def test_uploads_have_a_rate_of_their_own(api, user, rates):
    rates(upload="2/hour", write="1000/min")
    new_book = {"title": "T", "chapters": [{"title": "One", "content": "<p>Some words.</p>"}]}
    for _ in range(2):
        assert api.post("/api/v1/books/", new_book, format="json").status_code == 201
    refused = api.post("/api/v1/books/", new_book, format="json")
    assert_throttled(refused)
    assert int(refused["Retry-After"]) > 60  # the hour's window
    book = user.books.first()
    assert api.patch(f"/api/v1/books/{book.pk}/", {"title": "Renamed"}, format="json").status_code == 200


def test_an_ordinary_reader_paging_through_a_book_is_never_throttled(api, user, settings):
    """The shipped defaults: a reader turning a page a second, saving progress each time."""
    from config import settings as shipped

    settings.THROTTLE_RATES = shipped.THROTTLE_RATES
    book = make_book(user, chapters=60)
    base = f"/api/v1/books/{book.pk}"
    assert api.get(f"{base}/").status_code == 200
    assert api.get(f"{base}/chapters/").status_code == 200
    for number in range(1, 61):
        assert api.get(f"{base}/chapters/{number}/").status_code == 200
        assert api.get(f"{base}/progress/").status_code == 200
        assert api.put(f"{base}/progress/", {"chapter": number, "position": 0.0}, format="json").status_code == 200


def test_a_password_guessing_script_is_throttled_within_seconds_by_default(anon, user, settings):
    from config import settings as shipped

    settings.THROTTLE_RATES = shipped.THROTTLE_RATES
    started = time.monotonic()
    for attempt in range(100):
        if sign_in(anon, user.username, f"guess-{attempt}").status_code == 429:
            break
    assert attempt <= 25 and time.monotonic() - started < 5


# --- where the counters live -----------------------------------------------------------


def test_counters_live_in_redis_with_their_window_as_ttl(anon, api, user, rates):
    rates(sign_in="10/min", read="100/min")
    sign_in(anon, user.username)
    api.get("/api/v1/books/")
    found = throttle_keys()
    assert "throttle:sign_in:127.0.0.1" in found
    assert f"throttle:read:{user.pk}" in found
    client = get_redis_connection("throttle")
    assert all(0 < client.ttl(name) <= 3600 for name in found.values())
    assert client.get(found["throttle:sign_in:127.0.0.1"]) == b"1"


def test_clearing_the_response_cache_never_resets_a_counter(anon, user, rates):
    rates(sign_in="3/min")
    for _ in range(3):
        sign_in(anon, user.username)
    operations.clear()
    operations.clear_pattern("*")
    assert_throttled(sign_in(anon, user.username))


def test_rate_off_turns_a_scope_off(anon, user, rates):
    rates(sign_in=None, sign_in_user=None)
    assert all(sign_in(anon, user.username).status_code == 400 for _ in range(30))
    assert throttle_keys() == {}


@pytest.fixture
def throttle_redis_down(settings):
    settings.CACHES = {**settings.CACHES, "throttle": {**settings.CACHES["throttle"], "LOCATION": DEAD_REDIS}}
    throttling.counter.breaker.succeeded()
    yield
    throttling.counter.breaker.succeeded()
    throttling.counter.memory.clear()


def test_while_redis_is_down_each_process_counts_in_memory(anon, api, user, rates, throttle_redis_down):
    rates(sign_in="3/min")
    book = make_book(user, chapters=1)
    assert api.get(f"/api/v1/books/{book.pk}/").status_code == 200  # nothing fails because of Redis
    for _ in range(3):
        assert sign_in(anon, user.username).status_code == 400
    assert_throttled(sign_in(anon, user.username))
    assert throttling.counter.breaker.open


def test_a_hung_redis_costs_one_timeout_per_interval_not_one_per_request(anon, user, rates, settings, tmp_path):
    """The throttle's Redis accepts connections but answers nothing (CLIENT PAUSE)."""
    rates(sign_in="1000/min")
    server = RedisServer(tmp_path, persist=False)
    server.start()
    try:
        settings.CACHES = {**settings.CACHES, "throttle": {**settings.CACHES["throttle"], "LOCATION": server.url}}
        settings.REDIS_CACHE_RETRY_SECONDS = 30
        assert sign_in(anon, user.username).status_code == 400  # connects while Redis still answers
        server.pause(10_000)
        started = time.monotonic()
        answers = [sign_in(anon, user.username).status_code for _ in range(20)]
        elapsed = time.monotonic() - started
        assert answers == [400] * 20
        assert elapsed < 2.0, elapsed  # one socket timeout (0.25 s), not twenty
    finally:
        server.stop()
        throttling.counter.breaker.succeeded()


def test_counting_goes_back_to_redis_when_it_returns(anon, user, rates, settings, tmp_path):
    rates(sign_in="50/min")
    server = RedisServer(tmp_path, persist=False)
    settings.CACHES = {**settings.CACHES, "throttle": {**settings.CACHES["throttle"], "LOCATION": server.url}}
    settings.REDIS_CACHE_RETRY_SECONDS = 0.05
    sign_in(anon, user.username)  # nothing listens yet: counted in memory
    assert throttling.counter.breaker.open
    server.start()
    try:
        time.sleep(0.1)
        sign_in(anon, user.username)
        assert not throttling.counter.breaker.open
        assert server.client().keys("*throttle:sign_in:*")
    finally:
        server.stop()
        throttling.counter.breaker.succeeded()


def test_memory_counters_stay_bounded():
    windows = throttling.MemoryWindows(max_keys=100)
    for n in range(1000):
        windows.hit(f"throttle:sign_in_user:{n}", 60)
    assert len(windows._windows) <= 100
    assert windows.hit("throttle:sign_in:x", 60)[0] == 1
    assert windows.hit("throttle:sign_in:x", 60)[0] == 2


def test_a_bad_rate_in_the_environment_stops_the_start(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from config import settings as shipped

    monkeypatch.setenv("THROTTLE_READ_RATE", "lots")
    with pytest.raises(ImproperlyConfigured, match="THROTTLE_READ_RATE"):
        shipped._rate("THROTTLE_READ_RATE", "600/min")
    monkeypatch.setenv("THROTTLE_READ_RATE", "off")
    assert shipped._rate("THROTTLE_READ_RATE", "600/min") is None


def test_other_users_are_not_slowed_by_a_guessing_script(anon, other, rates):
    """The script is refused before any password hash is computed."""
    rates(sign_in="3/min")
    reader = client_for(other)
    for _ in range(3):
        sign_in(anon, "someone")
    started = time.monotonic()
    for _ in range(50):
        assert sign_in(anon, "someone").status_code == 429
    assert time.monotonic() - started < 2.5
    assert reader.get("/api/v1/books/").status_code == 200


def test_a_token_hit_is_counted_in_the_look_aheads_round_trip(api, user, rates, monkeypatch):
    rates(read="100/min")
    book = make_book(user, chapters=1)
    url = f"/api/v1/books/{book.pk}/"
    assert [api.get(url)["X-Cache"] for _ in range(2)] == ["MISS", "HIT"]  # the token's holder is known now
    separate = []
    real_hit = throttling.counter.hit
    monkeypatch.setattr(throttling.counter, "hit", lambda *args: separate.append(args) or real_hit(*args))

    assert [api.get(url)["X-Cache"] for _ in range(3)] == ["HIT"] * 3

    assert separate == []  # no round trip of its own: counted with the answer's MGET
    count = caches["throttle"].client.get_client().get(caches["throttle"].make_key(f"throttle:read:{user.pk}"))
    assert int(count) == 5  # every read counted once
