import pytest

from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)


def test_chapter_miss_then_hit(api, user):
    book = make_book(user)
    first = api.get(f"/api/v1/books/{book.pk}/chapters/1/")
    second = api.get(f"/api/v1/books/{book.pk}/chapters/1/")
    assert first.status_code == 200, first.content
    assert first["X-Cache"] == "MISS"
    assert second["X-Cache"] == "HIT"
    assert first.content == second.content
    assert second.json()["next"] == 2
