"""The Django admin's cache panel and the cache actions on the Book changelist."""

import re
import time

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from cacheadmin import operations, panel
from cacheadmin.cache import STATS_MINUTE_KEY, STATS_MINUTE_SECONDS, response_cache
from cacheadmin.models import WarmJob
from cacheadmin.registry import registry
from config.redis_config import RedisTarget
from tests import cacheadmin_support as support
from tests.celery_worker import wait_until_finished
from tests.factories import UserFactory, make_book

pytestmark = pytest.mark.django_db(transaction=True)

PANEL = "/admin/cacheadmin/cachepanel/"
CLEAR = f"{PANEL}clear/"
PATTERN = f"{PANEL}pattern/"
WARM = f"{PANEL}warm/"
BOOKS = "/admin/books/book/"


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def reader_client(user):
    client = Client()
    client.force_login(user)
    return client


def texts(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def read_all(api, *books):
    for book in books:
        for url in support.book_read_urls(book):
            assert api.get(url).status_code == 200


# --- who reaches the panel ------------------------------------------------------------


def test_admin_index_lists_the_cache_panel_for_staff(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert PANEL.encode() in response.content
    assert b"Response cache" in response.content


@pytest.mark.parametrize("url", [PANEL, CLEAR, PATTERN, WARM])
def test_non_staff_is_sent_to_the_login_page(reader_client, url):
    response = reader_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", [PANEL, CLEAR, PATTERN, WARM])
def test_anonymous_is_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_non_staff_cannot_clear_or_warm(reader_client, api, user):
    book = make_book(user)
    read_all(api, book)
    before = support.response_keys()
    assert reader_client.post(CLEAR).status_code == 302
    assert reader_client.post(PATTERN, {"pattern": "*", "confirm": "1"}).status_code == 302
    assert reader_client.post(WARM, {"all": "on"}).status_code == 302
    assert support.response_keys() == before


def test_staff_without_the_cache_permission_neither_sees_nor_uses_the_panel(plain_staff, api, user):
    book = make_book(user)
    read_all(api, book)
    before = support.response_keys()
    client = Client()
    client.force_login(plain_staff)
    assert PANEL.encode() not in client.get("/admin/").content
    for url in (PANEL, CLEAR, PATTERN, WARM):
        assert client.get(url).status_code == 403, url
    assert client.post(CLEAR).status_code == 403
    assert client.post(PATTERN, {"pattern": "*", "confirm": "1"}).status_code == 403
    assert client.post(WARM, {"all": "on"}).status_code == 403
    assert support.response_keys() == before


# --- dashboard ------------------------------------------------------------------------


def test_dashboard_shows_the_numbers(admin_client, api, user):
    book = make_book(user)
    api.get(f"/api/v1/books/{book.pk}/")
    api.get(f"/api/v1/books/{book.pk}/")
    api.get("/api/v1/books/")

    response = admin_client.get(PANEL)

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "admin/cacheadmin/dashboard.html"
    stats = response.context["stats"]
    assert (stats["hits"], stats["misses"], stats["keys_count"]) == (1, 2, 2)
    html = response.content.decode()
    assert 'id="keys-count">2<' in html
    assert 'id="hits">1<' in html
    assert 'id="misses">2<' in html
    assert 'id="hit-rate">33.3 %<' in html
    assert "<td>book</td>" in html and "<td>user</td>" in html
    assert "Clear all" in html and "Clear by pattern" in html and "Warm" in html


def test_dashboard_says_redis_is_unreachable_without_failing(admin_client, redis_down):
    response = admin_client.get(PANEL)
    assert response.status_code == 200
    assert "unavailable" in response.content.decode()
    assert any("unreachable" in text for text in texts(response))


# --- clear all ------------------------------------------------------------------------


def test_clear_all_asks_first_then_deletes_only_responses(admin_client, api, user, foreign):
    book = support.book_with_content(user)
    read_all(api, book)
    response_cache.flush_stats()
    responses, others = support.response_keys(), support.other_keys()

    confirm = admin_client.get(CLEAR)
    assert confirm.status_code == 200
    assert f'id="match-count">{len(responses)}<' in confirm.content.decode()
    assert support.response_keys() == responses  # asking deletes nothing

    done = admin_client.post(CLEAR, follow=True)
    assert done.redirect_chain[-1][0] == PANEL
    assert any(f"{len(responses)} key(s) deleted" in text for text in texts(done))
    assert support.response_keys() == set()
    assert support.other_keys() >= others
    assert support.all_exist(foreign)


def test_clear_all_while_redis_is_down_shows_a_message(admin_client, redis_down):
    for response in (admin_client.get(CLEAR, follow=True), admin_client.post(CLEAR, follow=True)):
        assert response.status_code == 200
        assert any("unreachable" in text for text in texts(response))


# --- clear by pattern -----------------------------------------------------------------


def test_clear_by_pattern_previews_then_deletes(admin_client, api, user):
    mine, other = support.book_with_content(user), support.book_with_content(user)
    read_all(api, mine, other)
    pattern = f"book:{mine.pk}:*"
    count = len(support.book_response_keys(mine))

    preview = admin_client.post(PATTERN, {"pattern": pattern})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert f'id="match-count">{count}<' in html
    assert f"book:{mine.pk}:metadata" in html
    assert 'name="confirm"' in html
    assert support.response_keys() == support.book_response_keys(mine) | support.book_response_keys(other)

    done = admin_client.post(PATTERN, {"pattern": pattern, "confirm": "1"}, follow=True)
    assert done.redirect_chain[-1][0] == PANEL
    assert any(f"Deleted {count} key(s)" in text for text in texts(done))
    assert support.response_keys() == support.book_response_keys(other)


def test_clear_by_pattern_with_no_match_offers_nothing_to_confirm(admin_client):
    preview = admin_client.post(PATTERN, {"pattern": "book:424242:*"})
    assert 'id="match-count">0<' in preview.content.decode()
    assert 'name="confirm"' not in preview.content.decode()


@pytest.mark.parametrize("pattern", ["book:1:?", "x" * 201, "../x", ""])
def test_clear_by_pattern_refuses_invalid_patterns(admin_client, api, user, pattern):
    book = make_book(user)
    api.get(f"/api/v1/books/{book.pk}/")
    for data in ({"pattern": pattern}, {"pattern": pattern, "confirm": "1"}):
        response = admin_client.post(PATTERN, data)
        assert response.status_code == 200
        assert response.context["form"].errors["pattern"]
    assert support.response_keys() == {f"book:{book.pk}:metadata"}


def test_clear_by_star_pattern_keeps_other_keys(admin_client, api, user, foreign):
    book = make_book(user)
    api.get(f"/api/v1/books/{book.pk}/")
    others = support.other_keys()
    admin_client.post(PATTERN, {"pattern": "*", "confirm": "1"})
    assert support.response_keys() == set()
    assert support.other_keys() >= others
    assert support.all_exist(foreign)


def test_clear_by_pattern_while_redis_is_down_shows_a_message(admin_client, redis_down):
    response = admin_client.post(PATTERN, {"pattern": "book:*"}, follow=True)
    assert response.status_code == 200
    assert any("unreachable" in text for text in texts(response))


def test_pattern_page_renders(admin_client):
    assert admin_client.get(PATTERN).status_code == 200


# --- warm -----------------------------------------------------------------------------


def job_page(job):
    return f"{PANEL}jobs/{job.pk}/"


def warm_job_from(response):
    """The job a warm form or action started: the page it redirected to is the job's."""
    url = response.redirect_chain[-1][0]
    assert url.startswith(f"{PANEL}jobs/"), response.redirect_chain
    return WarmJob.objects.get(pk=url.rstrip("/").rsplit("/", 1)[-1])


def test_warm_chosen_books(admin_client, api, user, celery_worker):
    first, second, untouched = (support.book_with_content(user) for _ in range(3))
    response = admin_client.post(WARM, {"books": f"{first.pk}, {second.pk}"}, follow=True)

    assert response.status_code == 200
    job = warm_job_from(response)
    assert f"Warming book(s) {first.pk}, {second.pk} in the background." in texts(response)
    assert (job.book_ids, job.all_books) == ([first.pk, second.pk], False)
    wait_until_finished(job.pk)

    page = admin_client.get(job_page(job)).content.decode()
    expected = support.book_response_keys(first) | support.book_response_keys(second)
    assert f"Warmed 2 book(s): {len(expected)} cached answer(s) written." in page
    assert 'id="job-already">0<' in page
    assert 'id="job-state">done<' in page
    assert 'http-equiv="refresh"' not in page  # a finished job's page stays still
    assert support.response_keys() == expected
    for url in support.book_read_urls(first) + support.book_read_urls(second):
        assert api.get(url)["X-Cache"] == "HIT", url
    assert api.get(f"/api/v1/books/{untouched.pk}/")["X-Cache"] == "MISS"


def test_warm_all_books(admin_client, user, other, celery_worker):
    books = [make_book(user, chapters=1), make_book(other, chapters=2)]
    job = warm_job_from(admin_client.post(WARM, {"all": "on"}, follow=True))
    assert job.all_books
    job = wait_until_finished(job.pk)
    assert (job.state, job.books_total, job.books_done, job.keys) == ("done", 2, 2, 11)
    assert "Warmed 2 book(s): 11 cached answer(s) written." in admin_client.get(job_page(job)).content.decode()
    for book in books:
        assert support.book_response_keys(book) <= support.response_keys()


def test_warm_reports_missing_books(admin_client, user, celery_worker):
    book = make_book(user, chapters=1)
    job = warm_job_from(admin_client.post(WARM, {"books": f"{book.pk} 99999"}, follow=True))
    wait_until_finished(job.pk)
    assert "No such book(s): 99999." in admin_client.get(job_page(job)).content.decode()


def test_a_running_jobs_page_shows_its_progress_and_refreshes_itself(admin_client, staff):
    job = WarmJob.objects.create(book_ids=list(range(1, 11)), state=WarmJob.State.RUNNING, books_total=10, books_done=4)
    page = admin_client.get(job_page(job)).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert 'id="job-state">running<' in page
    assert '<progress id="job-progress" max="100" value="40">' in page
    assert "4 / 10" in page


def test_a_queued_jobs_page_says_it_waits_for_a_worker(admin_client):
    job = WarmJob.objects.create(all_books=True)
    page = admin_client.get(job_page(job)).content.decode()
    assert 'id="job-state">queued<' in page
    assert "0 / ?" in page
    assert "no worker is running" in page
    assert 'http-equiv="refresh"' in page


def test_the_dashboard_lists_recent_jobs(admin_client):
    job = WarmJob.objects.create(book_ids=[3, 7], state=WarmJob.State.DONE, books_total=2, books_done=2, keys=12)
    page = admin_client.get(PANEL).content.decode()
    assert 'id="warm-jobs"' in page
    assert job_page(job) in page
    assert "book(s) 3, 7" in page


@pytest.mark.parametrize("job", ["00000000-0000-4000-8000-000000000000", "not-a-job"])
def test_unknown_job_page_is_404(admin_client, job):
    assert admin_client.get(f"{PANEL}jobs/{job}/").status_code == 404


def test_non_staff_cannot_see_a_job(reader_client, client, db):
    job = WarmJob.objects.create(all_books=True)
    for visitor in (reader_client, client):
        response = visitor.get(job_page(job))
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("data", [{}, {"books": "1, x"}, {"books": "1", "all": "on"}, {"books": "0"}])
def test_warm_form_errors_are_shown(admin_client, data):
    response = admin_client.post(WARM, data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert support.response_keys() == set()
    assert not WarmJob.objects.exists()


def test_warm_while_redis_is_down_shows_a_message(admin_client, user, redis_down):
    book = make_book(user)
    response = admin_client.post(WARM, {"books": str(book.pk)}, follow=True)
    assert response.status_code == 200
    assert any("unreachable" in text for text in texts(response))
    assert not WarmJob.objects.exists()


def test_warm_page_renders(admin_client):
    assert admin_client.get(WARM).status_code == 200


# --- Book changelist actions ----------------------------------------------------------


@pytest.fixture
def superuser_client(db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_book_changelist_offers_the_cache_actions(superuser_client, user):
    make_book(user)
    html = superuser_client.get(BOOKS).content.decode()
    assert "Warm cache for selected books" in html
    assert "Clear cache for selected books" in html


def test_warm_action_on_selected_books(superuser_client, api, user, celery_worker):
    chosen, other = support.book_with_content(user), support.book_with_content(user)
    response = superuser_client.post(BOOKS, {"action": "warm_cache", "_selected_action": [chosen.pk]}, follow=True)
    assert f"Warming book(s) {chosen.pk} in the background." in texts(response)
    job = wait_until_finished(warm_job_from(response).pk)
    assert (job.state, job.books_done, job.keys) == ("done", 1, len(support.book_response_keys(chosen)))
    assert support.response_keys() == support.book_response_keys(chosen)
    for url in support.book_read_urls(chosen):
        assert api.get(url)["X-Cache"] == "HIT", url
    assert api.get(f"/api/v1/books/{other.pk}/")["X-Cache"] == "MISS"


def test_clear_action_on_selected_books(superuser_client, api, user, foreign):
    chosen, other = support.book_with_content(user), support.book_with_content(user)
    read_all(api, chosen, other)
    api.get(f"/api/v1/books/{chosen.pk}/progress/")
    api.get(f"/api/v1/books/{other.pk}/progress/")
    others = support.other_keys()

    before = support.response_keys()
    confirm = superuser_client.post(BOOKS, {"action": "clear_cache", "_selected_action": [chosen.pk]})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert f'{chosen} <span class="quiet">(id {chosen.pk})' in html and f"(id {other.pk})" not in html
    assert_confirmation_markup(html)
    assert support.response_keys() == before  # asking deletes nothing

    response = superuser_client.post(
        BOOKS, {"action": "clear_cache", "_selected_action": [chosen.pk], "post": "yes"}, follow=True
    )

    deleted = len(support.book_response_keys(chosen)) + 1  # and the reader's progress of it
    assert any(f"{deleted} key(s) deleted" in text for text in texts(response))
    assert support.response_keys() == support.book_response_keys(other) | {f"user:{user.pk}:progress:{other.pk}"}
    assert support.other_keys() >= others
    assert support.all_exist(foreign)


def test_book_actions_while_redis_is_down_show_a_message(superuser_client, user, redis_down):
    book = make_book(user)
    for action in ("warm_cache", "clear_cache"):
        data = {"action": action, "_selected_action": [book.pk], "post": "yes"}
        response = superuser_client.post(BOOKS, data, follow=True)
        assert response.status_code == 200
        assert any("unreachable" in text for text in texts(response))


# --- the panel over time and acting safely ----------------------------------------------


def assert_confirmation_markup(html):
    """Django's own delete confirmation: its buttons, the page class that styles them."""
    assert "delete-confirmation" in html
    assert '<input type="submit" value="Yes, I’m sure">' in html
    assert '<a href="#" class="button cancel-link">No, take me back</a>' in html
    assert "admin/js/cancel.js" in html


def error_banners(html):
    return html.count('class="error"')  # the admin's message list: one <li class="error"> per banner


def test_dashboard_for_a_manager_shows_reads_charts_time_and_actions(admin_client, api, user):
    book = make_book(user)
    for _ in range(3):
        api.get(f"/api/v1/books/{book.pk}/")
    api.get("/api/v1/books/")

    response = admin_client.get(PANEL)

    html = response.content.decode()
    read_names = [read.name for read in registry.response_reads()]
    for chart in ("chart-requests", "chart-hit-rate"):
        svg = html[html.index(f'<svg id="{chart}"') : html.index("</svg>", html.index(f'<svg id="{chart}"'))]
        assert svg.count('<g class="series"') == len(read_names)
        for name in read_names:
            assert f'data-read="{name}"' in svg
    rows = {row["name"]: row for row in response.context["read_rows"]}
    assert set(rows) == set(read_names)
    book_read = registry.read_of_key(f"book:{book.pk}:metadata").name
    assert (rows[book_read]["hits"], rows[book_read]["misses"]) == (2, 1)
    assert (rows[book_read]["hour"].total_hits, rows[book_read]["hour"].total_misses) == (2, 1)
    assert 'id="as-of"' in html and "Counting since" in html
    assert 'id="refresh"' in html and "?refresh=30" in html
    assert 'id="redis-in-use"' in html and panel.redis_in_use() in html
    assert "Memory of this app" in html and "whole Redis server" in html
    assert 'id="ttls">1 h / 5 min<' in html
    assert 'id="cache-actions"' in html and 'class="deletelink" id="clear-all"' in html
    assert 'list="book-ids"' in html and f'<option value="{book.pk}">' in html
    assert error_banners(html) == 0


def test_dashboard_auto_refresh_is_a_choice(admin_client):
    assert 'http-equiv="refresh"' not in admin_client.get(PANEL).content.decode()
    html = admin_client.get(PANEL + "?refresh=30").content.decode()
    assert '<meta http-equiv="refresh" content="30">' in html
    assert "Stop refreshing" in html


def test_dashboard_for_a_stats_only_viewer_has_no_action_forms(stats_viewer):
    client = Client()
    client.force_login(stats_viewer)
    response = client.get(PANEL)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="chart-requests"' in html
    assert 'id="read-only-note"' in html
    assert "<form" not in html.split('id="content-main"')[1]
    assert CLEAR not in html


def test_dashboard_with_redis_down_shows_one_banner_and_no_actions(admin_client, redis_down):
    html = admin_client.get(PANEL).content.decode()
    assert error_banners(html) == 1
    assert "<form" not in html.split('id="content-main"')[1]
    assert 'id="actions-unavailable"' in html
    assert 'id="redis-in-use"' in html


def test_an_action_while_redis_is_down_leads_to_one_banner(admin_client, redis_down):
    cleared = admin_client.post(CLEAR, follow=True)
    previewed = admin_client.post(PATTERN, {"pattern": "book:*"}, follow=True)
    for response in (cleared, previewed):
        assert response.redirect_chain[-1][0] == PANEL
        assert error_banners(response.content.decode()) == 1


def test_confirmation_pages_look_like_djangos_delete_confirmation(admin_client, api, user):
    book = make_book(user)
    api.get(f"/api/v1/books/{book.pk}/")
    assert_confirmation_markup(admin_client.get(CLEAR).content.decode())
    assert_confirmation_markup(admin_client.post(PATTERN, {"pattern": "book:*"}).content.decode())


def test_pattern_preview_shows_the_total_and_how_many_more(admin_client, api, user):
    books = [make_book(user, chapters=0) for _ in range(12)]
    for book in books:
        api.get(f"/api/v1/books/{book.pk}/")
    response = admin_client.post(PATTERN, {"pattern": "book:*:metadata"})
    html = response.content.decode()
    assert 'id="match-count">12<' in html
    assert html.count("<li><code>book:") == 10
    assert 'id="match-more">and 2 more<' in html


@pytest.mark.parametrize(
    ("pattern", "said"),
    [("book:1:?", "'?'"), ("book:<1>/", "'/', '<', '>'"), ("x" * 201, "201"), ("", "required")],
)
def test_pattern_errors_say_what_is_wrong_in_valid_markup(admin_client, pattern, said):
    response = admin_client.post(PATTERN, {"pattern": pattern})
    error = " ".join(response.context["form"].errors["pattern"])
    assert said in error
    assert operations.PATTERN_HELP not in error
    html = response.content.decode()
    assert '<ul class="errorlist"' in html
    assert not re.search(r"<p>[^<]*<ul class=\"errorlist", html)


def test_warm_form_errors_are_not_inside_a_paragraph(admin_client):
    html = admin_client.post(WARM, {"books": "1, x"}).content.decode()
    assert "&#x27;x&#x27; is not a book id." in html
    assert not re.search(r"<p>[^<]*<ul class=\"errorlist", html)


def test_a_job_whose_answers_were_all_cached_says_so(admin_client):
    job = WarmJob.objects.create(book_ids=[3], state=WarmJob.State.DONE, books_total=1, books_done=1, keys=0, already=7)
    page = admin_client.get(job_page(job)).content.decode()
    assert "all 7 answer(s) were already cached; nothing needed writing." in page


def test_warming_cached_books_again_records_them_as_already_cached(admin_client, user, celery_worker):
    book = support.book_with_content(user)
    first = wait_until_finished(warm_job_from(admin_client.post(WARM, {"books": str(book.pk)}, follow=True)).pk)
    again = wait_until_finished(warm_job_from(admin_client.post(WARM, {"books": str(book.pk)}, follow=True)).pk)
    assert (first.keys, first.already) == (len(support.book_response_keys(book)), 0)
    assert (again.keys, again.already) == (0, first.keys)
    assert "were already cached" in admin_client.get(job_page(again)).content.decode()


def test_numbers_have_thousands_separators(admin_client):
    WarmJob.objects.create(book_ids=[3], state=WarmJob.State.DONE, books_total=1, books_done=1, keys=12345)
    assert "12,345" in admin_client.get(PANEL).content.decode()


def test_book_changelist_has_an_id_column(superuser_client, user):
    book = make_book(user)
    html = superuser_client.get(BOOKS).content.decode()
    assert "column-id" in html and f">{book.pk}</a>" in html


# --- the time series ------------------------------------------------------------------


def test_the_minute_series_counts_the_reads_made_and_expires(api, user):
    book = make_book(user)
    for _ in range(4):
        api.get(f"/api/v1/books/{book.pk}/")
    response_cache.flush_stats()
    hour = panel.last_hour()
    name = registry.read_of_key(f"book:{book.pk}:metadata").name
    series = {one.name: one for one in hour.reads}[name]
    assert (series.total_hits, series.total_misses) == (3, 1)
    assert len(series.hits) == panel.MINUTES
    assert hour.since is not None
    client = support.raw_redis()
    minutes = [key for key in support.other_keys() if key.startswith(f"{STATS_MINUTE_KEY}:")]
    assert minutes
    for key in minutes:
        assert 0 < client.ttl(response_cache.name(key)) <= STATS_MINUTE_SECONDS


def test_the_series_forgets_minutes_older_than_the_window(api, user):
    book = make_book(user)
    api.get(f"/api/v1/books/{book.pk}/")
    response_cache.flush_stats()
    later = panel.last_hour(now=time.time() + 3 * 3600)
    assert sum(one.total_hits + one.total_misses for one in later.reads) == 0


def test_app_memory_is_measured_and_estimated_when_sampled(api, user):
    for book in [make_book(user, chapters=0) for _ in range(3)]:
        api.get(f"/api/v1/books/{book.pk}/")
    whole = panel.app_memory()
    assert (whole.keys, whole.sampled, whole.estimated) == (3, 3, False)
    assert whole.bytes > 0
    sampled = panel.app_memory(sample=1)
    assert (sampled.keys, sampled.sampled, sampled.estimated) == (3, 1, True)
    assert sampled.bytes > 0


def test_the_redis_in_use_never_shows_a_password(settings):
    settings.REDIS = RedisTarget(url="redis://user:s3cret@cache.example:6380/2")
    assert panel.redis_in_use() == "cache.example:6380/2"
    settings.REDIS = RedisTarget(url="redis://:s3cret@x/3", sentinels=(("s1", 26379),), master="mymaster")
    shown = panel.redis_in_use()
    assert "mymaster" in shown and "s3cret" not in shown


def test_durations_read_as_people_say_them():
    assert [panel.duration(s) for s in (3600, 300, 90, 5400, 0)] == ["1 h", "5 min", "1 min 30 s", "1 h 30 min", "0 s"]
    # An uptime keeps its two largest units (the panel and `cache_stats`).
    uptimes = (3 * 86400 + 4 * 3600 + 5, 5 * 3600 + 12 * 60 + 3, 42, 5 * 3600 + 12)
    assert [panel.duration(s, most=2) for s in uptimes] == ["3 d 4 h", "5 h 12 min", "42 s", "5 h"]
