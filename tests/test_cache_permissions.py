"""Cache administration needs its own permission, and leaves a trace in the admin log
(API.md, "Cache administration")."""

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from cacheadmin.models import WarmJob
from tests import cacheadmin_support as support
from tests.celery_worker import wait_for_job, wait_until_finished
from tests.conftest import client_for
from tests.factories import UserFactory, make_book

pytestmark = pytest.mark.django_db(transaction=True)

STATS = "/api/v1/admin/cache/stats/"
CLEAR = "/api/v1/admin/cache/clear/"
WARM = "/api/v1/admin/cache/warm/"
PANEL = "/admin/cacheadmin/cachepanel/"
BOOKS = "/admin/books/book/"


def read_all(api, *books):
    for book in books:
        for url in support.book_read_urls(book):
            assert api.get(url).status_code == 200


def may_view_books(user):
    user.user_permissions.add(Permission.objects.get(codename="view_book", content_type__app_label="books"))
    return user


def browser(user):
    client = Client()
    client.force_login(user)
    return client


def cache_entries():
    return list(LogEntry.objects.filter(content_type__app_label="cacheadmin").order_by("pk"))


# --- who may ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("get", STATS, None),
        ("delete", CLEAR, None),
        ("delete", f"{CLEAR}book:1:*/", None),
        ("post", WARM, {"all": True}),
    ],
)
def test_staff_without_the_permission_is_403_through_the_api(plain_staff, api, user, method, url, data):
    read_all(api, make_book(user))
    before = support.response_keys()
    response = getattr(client_for(plain_staff), method)(url, data, format="json")
    assert response.status_code == 403
    assert response.json()["detail"]
    assert support.response_keys() == before
    assert cache_entries() == []


def test_the_statistics_permission_shows_statistics_only(stats_viewer, api, user):
    read_all(api, make_book(user))
    before = support.response_keys()
    viewer = client_for(stats_viewer)
    assert viewer.get(STATS).status_code == 200
    assert viewer.delete(CLEAR).status_code == 403
    assert viewer.delete(f"{CLEAR}*/").status_code == 403
    assert viewer.post(WARM, {"all": True}, format="json").status_code == 403
    assert support.response_keys() == before


def test_the_permission_of_the_users_own_works_like_a_groups(api, user):
    member = UserFactory(is_staff=True)
    member.user_permissions.add(Permission.objects.get(codename="manage_cache", content_type__app_label="cacheadmin"))
    assert client_for(member).delete(CLEAR).status_code == 200


def test_a_superuser_holds_the_permission(db):
    boss = UserFactory(is_staff=True, is_superuser=True)
    assert client_for(boss).get(STATS).status_code == 200
    assert client_for(boss).post(WARM, {"all": True}, format="json").status_code == 202


def test_the_permission_without_being_staff_is_not_enough(user):
    user.user_permissions.add(Permission.objects.get(codename="manage_cache", content_type__app_label="cacheadmin"))
    assert client_for(user).delete(CLEAR).status_code == 403


def test_an_inactive_manager_is_refused(staff):
    client = APIClient()
    client.force_authenticate(staff)
    staff.is_active = False
    assert client.delete(CLEAR).status_code == 403


def test_the_panel_for_the_statistics_permission_shows_no_forms_and_refuses_them(stats_viewer, api, user):
    read_all(api, make_book(user))
    before = support.response_keys()
    viewer = browser(stats_viewer)
    assert PANEL.encode() in viewer.get("/admin/").content
    dashboard = viewer.get(PANEL)
    assert dashboard.status_code == 200
    assert b'id="read-only-note"' in dashboard.content
    assert b"Clear all" not in dashboard.content and b'action="' + f"{PANEL}warm/".encode() not in dashboard.content
    for url in (f"{PANEL}clear/", f"{PANEL}pattern/", f"{PANEL}warm/"):
        assert viewer.get(url).status_code == 403
        assert viewer.post(url, {"pattern": "*", "confirm": "1", "all": "on"}).status_code == 403
    assert support.response_keys() == before


def test_book_actions_need_the_permission(api, user):
    """A staff member who may change books but not the cache sees no cache action, and posting one does nothing."""
    editor = UserFactory(is_staff=True)
    editor.user_permissions.add(*Permission.objects.filter(content_type__app_label="books", codename__endswith="_book"))
    book = make_book(user)
    read_all(api, book)
    before = support.response_keys()
    client = browser(editor)
    changelist = client.get(BOOKS)
    assert changelist.status_code == 200
    assert b"warm_cache" not in changelist.content and b"clear_cache" not in changelist.content
    for action in ("warm_cache", "clear_cache"):
        client.post(BOOKS, {"action": action, "_selected_action": [book.pk], "post": "yes"})
    assert support.response_keys() == before
    assert cache_entries() == []


def test_book_actions_for_a_manager(staff, api, user, celery_worker):
    book = make_book(user)
    client = browser(may_view_books(staff))
    assert b"warm_cache" in client.get(BOOKS).content
    client.post(BOOKS, {"action": "warm_cache", "_selected_action": [book.pk]})
    wait_until_finished(WarmJob.objects.get().pk)
    assert support.book_response_keys(book) <= support.response_keys()


# --- the admin log ---------------------------------------------------------------------


def test_every_clear_and_warm_through_the_api_is_in_the_admin_log(staff, api, user, celery_worker):
    first, second = support.book_with_content(user), support.book_with_content(user)
    manager = client_for(staff)

    queued = manager.post(WARM, {"books": [first.pk, second.pk]}, format="json").json()
    warmed = wait_for_job(manager, queued["status_url"])
    read_all(api, first)
    pattern = manager.delete(f"{CLEAR}book:{first.pk}:*/").json()
    everything = manager.delete(CLEAR).json()

    entries = cache_entries()
    assert [entry.user_id for entry in entries] == [staff.pk] * 4
    assert [entry.action_flag for entry in entries] == [CHANGE, CHANGE, DELETION, DELETION]
    job = queued["job"]
    assert [entry.change_message for entry in entries] == [
        f"Started warming book(s) {first.pk}, {second.pk} through the API (job {job}).",
        f"Warmed book(s) {first.pk}, {second.pk} (job {job}): 2 book(s), {warmed['keys']} key(s) written.",
        f"Cleared the keys matching 'book:{first.pk}:*' through the API: {pattern['deleted']} key(s) deleted.",
        f"Cleared the response cache through the API: {everything['deleted']} key(s) deleted.",
    ]
    assert all(entry.object_repr == "response cache" for entry in entries)


def test_refused_or_failed_operations_leave_no_entry(staff, plain_staff, redis_down):
    assert client_for(plain_staff).delete(CLEAR).status_code == 403
    assert client_for(staff).delete(CLEAR).status_code == 503
    assert client_for(staff).delete(f"{CLEAR}a b/").status_code == 400
    assert cache_entries() == []


def test_every_clear_and_warm_in_the_admin_is_in_the_admin_log_and_recent_actions(staff, api, user, celery_worker):
    book = support.book_with_content(user)
    client = browser(may_view_books(staff))
    keys = len(support.book_response_keys(book))

    def warmed_in_the_admin(post):
        post()
        job = WarmJob.objects.order_by("-created_at").first()
        wait_until_finished(job.pk)
        return job

    one = warmed_in_the_admin(lambda: client.post(f"{PANEL}warm/", {"books": str(book.pk)}))
    client.post(f"{PANEL}pattern/", {"pattern": f"book:{book.pk}:*", "confirm": "1"})
    every = warmed_in_the_admin(lambda: client.post(f"{PANEL}warm/", {"all": "on"}))
    client.post(f"{PANEL}clear/")
    action = warmed_in_the_admin(lambda: client.post(BOOKS, {"action": "warm_cache", "_selected_action": [book.pk]}))
    client.post(BOOKS, {"action": "clear_cache", "_selected_action": [book.pk], "post": "yes"})

    messages = [entry.change_message for entry in cache_entries()]
    assert messages == [
        f"Started warming book(s) {book.pk} in the admin (job {one.pk}).",
        f"Warmed book(s) {book.pk} (job {one.pk}): 1 book(s), {keys} key(s) written.",
        f"Cleared the keys matching 'book:{book.pk}:*' in the admin: {keys} key(s) deleted.",
        f"Started warming all books in the admin (job {every.pk}).",
        f"Warmed all books (job {every.pk}): 1 book(s), {keys} key(s) written.",
        f"Cleared the response cache in the admin: {keys} key(s) deleted.",
        f"Started warming book(s) {book.pk} in the admin (job {action.pk}).",
        f"Warmed book(s) {book.pk} (job {action.pk}): 1 book(s), {keys} key(s) written.",
        f"Cleared the cache of 1 book(s) ({book.pk}) in the admin: {keys} key(s) deleted.",
    ]
    index = client.get("/admin/").content.decode()
    recent = index[index.index('id="recent-actions-module"') :]
    assert recent.count("response cache") >= 6
