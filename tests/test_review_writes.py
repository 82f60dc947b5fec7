"""Write paths found in review that changed rows without retiring what the rows were before.

Real PostgreSQL and Redis. The contract (docs/API.md, "Cached reads"): a change through any path --
a model's save() in code, the Django admin, a management command, a queryset write -- is visible to
the very next read, for every user.
"""

import json

import pytest
from django.core.management import call_command
from django.db.models import Count, F
from django.test import Client
from rest_framework.authtoken.models import Token, TokenProxy

from books.models import Book, Visibility
from cacheadmin.cache import response_cache
from tests.conftest import as_a_fresh_worker
from tests.factories import UserFactory, make_book

pytestmark = pytest.mark.django_db(transaction=True)


def warm(client, *urls):
    for url in urls:
        client.get(url)
        assert client.get(url)["X-Cache"] == "HIT", url


def list_ids(client):
    return [b["id"] for b in client.get("/api/v1/books/").json()["results"]]


@pytest.fixture
def public_book(user):
    return make_book(user, title="Open", chapters=2, visibility=Visibility.PUBLIC)


def test_saving_a_new_instance_over_an_existing_row_retires_the_rows_old_state(other_api, user, public_book):
    """`Book(pk=existing, ...).save()` is an UPDATE in Django, but the instance is `adding`: the
    stored row (public) was never read, so only the new state (private) was retired."""
    warm(other_api, "/api/v1/books/")
    assert list_ids(other_api) == [public_book.pk]

    Book(
        pk=public_book.pk, owner=user, title="Closed", visibility=Visibility.PRIVATE, created_at=public_book.created_at
    ).save()

    assert Book.objects.get(pk=public_book.pk).visibility == Visibility.PRIVATE

    assert list_ids(other_api) == []


def test_loaddata_over_an_existing_row_retires_the_rows_old_state(other_api, user, public_book, tmp_path):
    """loaddata saves raw: the stored row was never read, so the book stayed in other users' lists."""
    warm(other_api, "/api/v1/books/")
    fixture = tmp_path / "books.json"
    fields = {"owner": user.pk, "title": "Closed", "visibility": "private", "created_at": "2020-01-01T00:00:00Z"}
    fields["updated_at"] = fields["created_at"]
    fixture.write_text(json.dumps([{"model": "books.book", "pk": public_book.pk, "fields": fields}]))

    call_command("loaddata", str(fixture), verbosity=0)

    assert Book.objects.get(pk=public_book.pk).visibility == Visibility.PRIVATE
    assert list_ids(other_api) == []


def test_token_given_to_another_user_in_the_django_admin_authenticates_the_new_user(user, other):
    """DRF's admin edits tokens through the proxy model TokenProxy: its save() sends signals with
    sender=TokenProxy, which no receiver of Token heard, so the token kept its old user in Redis."""
    key = user.auth_token.key
    Token.objects.filter(user=other).delete()
    holder = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    private = make_book(user, title="Mine only", chapters=1)
    warm(holder, "/api/v1/books/")
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = admin.post(f"/admin/authtoken/tokenproxy/{user.pk}/change/", {"user": other.pk})
    assert response.status_code == 302, response.content[:2000]
    assert Token.objects.get(key=key).user_id == other.pk

    assert [b["id"] for b in holder.get("/api/v1/books/").json()["results"]] == []
    assert holder.get(f"/api/v1/books/{private.pk}/").status_code == 404


def test_update_through_a_proxy_models_queryset_retires(user, other):
    key = user.auth_token.key
    Token.objects.filter(user=other).delete()
    holder = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    private = make_book(user, title="Mine only", chapters=1)
    warm(holder, f"/api/v1/books/{private.pk}/")

    TokenProxy.objects.filter(key=key).update(user=other)

    assert holder.get(f"/api/v1/books/{private.pk}/").status_code == 404


def test_update_of_an_annotated_queryset_works_and_retires(other_api, public_book):
    """update() locked its rows with SELECT ... FOR UPDATE on the queryset itself, which PostgreSQL
    refuses with GROUP BY: a write Django allows failed."""
    warm(other_api, "/api/v1/books/")

    changed = Book.objects.annotate(n=Count("chapters")).filter(n__gt=0).update(visibility=Visibility.PRIVATE)

    assert changed == 1
    assert list_ids(other_api) == []


def test_update_of_a_distinct_queryset_works_and_retires(other_api, public_book):
    """PostgreSQL refuses FOR UPDATE with DISTINCT."""
    warm(other_api, "/api/v1/books/")

    changed = Book.objects.filter(chapters__number__gte=1).distinct().update(visibility=Visibility.PRIVATE)

    assert changed == 1
    assert list_ids(other_api) == []


def test_update_may_use_the_querysets_annotations(api, public_book):
    warm(api, f"/api/v1/books/{public_book.pk}/")

    before = Book.objects.get(pk=public_book.pk).word_count

    Book.objects.filter(pk=public_book.pk).annotate(doubled=F("word_count") * 2).update(word_count=F("doubled"))

    assert api.get(f"/api/v1/books/{public_book.pk}/").json()["word_count"] == 2 * before > 0


def test_bulk_create_updating_conflicts_retires_the_rows_old_state(other_api, user, public_book):
    """bulk_create(update_conflicts=True) changes existing rows: only the objects' new values were
    retired, so a public book made private stayed in other users' lists."""
    warm(other_api, "/api/v1/books/")
    row = Book(pk=public_book.pk, owner=user, title="Closed", visibility=Visibility.PRIVATE)

    Book.objects.bulk_create([row], update_conflicts=True, unique_fields=["id"], update_fields=["visibility"])

    assert Book.objects.get(pk=public_book.pk).visibility == Visibility.PRIVATE
    assert list_ids(other_api) == []


def test_a_write_made_while_the_cache_was_turned_off_is_seen_once_it_is_on_again(settings, other_api, public_book):
    """A process with REDIS_CACHE_ENABLED=false (a batch job, or every worker while an operator turned
    the cache off) retired nothing and recorded nothing: once the cache was on again, Redis served
    answers older than those writes for up to the static TTL."""
    response_cache.relay.check()  # this process knows the server (and has applied every missed retirement)
    warm(other_api, "/api/v1/books/")
    settings.REDIS_CACHE_ENABLED = False

    public_book.visibility = Visibility.PRIVATE
    public_book.save()

    settings.REDIS_CACHE_ENABLED = True
    as_a_fresh_worker()  # a process that saw nothing of it
    response_cache.relay.check()  # its relay's next look (every REDIS_CACHE_RELAY_SECONDS)
    assert list_ids(other_api) == []
