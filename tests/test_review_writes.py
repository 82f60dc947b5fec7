"""Write paths found in review that changed rows without retiring what the rows were before.

Real PostgreSQL and Redis. The contract (docs/API.md, "Cached reads"): a change through any path --
a model's save() in code, the Django admin, a management command, a queryset write -- is visible to
the very next read, for every user.
"""

import json

import pytest
from django.core.management import call_command

from books.models import Book, Visibility
from tests.factories import make_book

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
