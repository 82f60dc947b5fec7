"""Descriptions: list order and filters, owner create and delete (docs/API.md)."""

import pytest

from books.models import Description, DescriptionKind
from tests.factories import DescriptionFactory, make_book

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = {"id", "chapter", "kind", "text", "created_at"}


def url(book_id):
    return f"/api/v1/books/{book_id}/descriptions/"


def detail_url(book_id, description_id):
    return f"/api/v1/books/{book_id}/descriptions/{description_id}/"


def describe(book, number, kind="location", text=None):
    chapter = book.chapters.get(number=number)
    if text is None:
        return DescriptionFactory(book=book, chapter=chapter, kind=kind)
    return DescriptionFactory(book=book, chapter=chapter, kind=kind, text=text)


@pytest.fixture
def book(user):
    return make_book(user, chapters=3)


def test_empty_list(api, book):
    response = api.get(url(book.pk))

    assert response.status_code == 200
    assert response.json() == []


def test_list_fields(api, book):
    description = describe(book, 2, kind="character", text="A tall stranger.")

    body = api.get(url(book.pk)).json()

    assert len(body) == 1
    assert set(body[0]) == FIELDS
    assert body[0]["id"] == description.pk
    assert body[0]["chapter"] == 2  # the chapter's number, not its row id
    assert body[0]["kind"] == "character"
    assert body[0]["text"] == "A tall stranger."
    assert body[0]["created_at"].endswith("Z")


def test_list_is_ordered_by_chapter_then_id(api, book):
    third = describe(book, 3)
    first_a = describe(book, 1)
    second = describe(book, 2)
    first_b = describe(book, 1)

    body = api.get(url(book.pk)).json()

    assert [d["id"] for d in body] == [first_a.pk, first_b.pk, second.pk, third.pk]
    assert [d["chapter"] for d in body] == [1, 1, 2, 3]


def test_list_has_only_this_books_descriptions(api, user, book):
    mine = describe(book, 1)
    elsewhere = make_book(user, title="Elsewhere")
    describe(elsewhere, 1)

    assert [d["id"] for d in api.get(url(book.pk)).json()] == [mine.pk]


def test_kind_filter(api, book):
    place = describe(book, 1, kind="location")
    person = describe(book, 2, kind="character")
    describe(book, 3, kind="atmosphere")

    assert [d["id"] for d in api.get(url(book.pk), {"kind": "location"}).json()] == [place.pk]
    assert [d["id"] for d in api.get(url(book.pk), {"kind": "character"}).json()] == [person.pk]
    assert api.get(url(book.pk), {"kind": "action"}).json() == []


def test_chapter_filter(api, book):
    describe(book, 1)
    a = describe(book, 2, kind="object")
    b = describe(book, 2, kind="action")

    assert [d["id"] for d in api.get(url(book.pk), {"chapter": 2}).json()] == [a.pk, b.pk]
    assert api.get(url(book.pk), {"chapter": 3}).json() == []


def test_kind_and_chapter_filters_together(api, book):
    describe(book, 1, kind="object")
    wanted = describe(book, 2, kind="object")
    describe(book, 2, kind="action")

    body = api.get(url(book.pk), {"kind": "object", "chapter": 2}).json()

    assert [d["id"] for d in body] == [wanted.pk]


@pytest.mark.parametrize("params", [{"kind": "weather"}, {"chapter": "two"}, {"chapter": 0}])
def test_invalid_filters_are_400(api, book, params):
    response = api.get(url(book.pk), params)

    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_reader_of_public_book_reads_descriptions(other_api, user):
    book = make_book(user, visibility="public")
    describe(book, 1, text="Seen by all.")

    response = other_api.get(url(book.pk))

    assert response.status_code == 200
    assert [d["text"] for d in response.json()] == ["Seen by all."]


# POST


@pytest.mark.parametrize("kind", [choice.value for choice in DescriptionKind])
def test_owner_creates_a_description(api, book, kind):
    response = api.post(url(book.pk), {"chapter": 2, "kind": kind, "text": "Something vivid."}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == FIELDS
    assert (body["chapter"], body["kind"], body["text"]) == (2, kind, "Something vivid.")
    stored = Description.objects.get(pk=body["id"])
    assert (stored.book_id, stored.chapter.number, stored.kind) == (book.pk, 2, kind)


def test_created_description_is_visible_to_the_next_read(api, other_api, user):
    book = make_book(user, visibility="public")
    api.get(url(book.pk))
    other_api.get(url(book.pk))
    api.get(url(book.pk), {"kind": "location"})

    created = api.post(url(book.pk), {"chapter": 1, "kind": "location", "text": "New."}, format="json").json()

    assert [d["id"] for d in api.get(url(book.pk)).json()] == [created["id"]]
    assert [d["id"] for d in other_api.get(url(book.pk)).json()] == [created["id"]]
    assert [d["id"] for d in api.get(url(book.pk), {"kind": "location"}).json()] == [created["id"]]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"chapter": 1, "kind": "weather", "text": "x"}, "kind"),
        ({"chapter": 1, "kind": "", "text": "x"}, "kind"),
        ({"chapter": 1, "kind": "LOCATION", "text": "x"}, "kind"),
        ({"chapter": 4, "kind": "location", "text": "x"}, "chapter"),
        ({"chapter": 0, "kind": "location", "text": "x"}, "chapter"),
        ({"chapter": -2, "kind": "location", "text": "x"}, "chapter"),
        ({"chapter": 99999999999999999999, "kind": "location", "text": "x"}, "chapter"),
        ({"chapter": "one", "kind": "location", "text": "x"}, "chapter"),
        ({"kind": "location", "text": "x"}, "chapter"),
        ({"chapter": 1, "text": "x"}, "kind"),
        ({"chapter": 1, "kind": "location"}, "text"),
        ({"chapter": 1, "kind": "location", "text": ""}, "text"),
        ({"chapter": 1, "kind": "location", "text": "x" * 20001}, "text"),
    ],
)
def test_invalid_description_is_400(api, book, body, field):
    response = api.post(url(book.pk), body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Description.objects.exists()


def test_chapter_of_another_book_is_400(api, user, book):
    make_book(user, title="Longer", chapters=9)

    response = api.post(url(book.pk), {"chapter": 9, "kind": "location", "text": "x"}, format="json")

    assert response.status_code == 400
    assert "chapter" in response.json()


def test_non_owner_on_public_book_is_403(other_api, user):
    book = make_book(user, visibility="public")

    response = other_api.post(url(book.pk), {"chapter": 1, "kind": "location", "text": "x"}, format="json")

    assert response.status_code == 403
    assert not Description.objects.exists()


def test_non_owner_on_private_book_is_404(other_api, book):
    response = other_api.post(url(book.pk), {"chapter": 1, "kind": "location", "text": "x"}, format="json")

    assert response.status_code == 404
    assert not Description.objects.exists()


# DELETE


def test_owner_deletes_a_description(api, book):
    gone = describe(book, 1)
    kept = describe(book, 2)
    api.get(url(book.pk))

    response = api.delete(detail_url(book.pk, gone.pk))

    assert response.status_code == 204
    assert not Description.objects.filter(pk=gone.pk).exists()
    assert [d["id"] for d in api.get(url(book.pk)).json()] == [kept.pk]


def test_delete_unknown_description_is_404(api, book):
    response = api.delete(detail_url(book.pk, 987654))

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_delete_twice_is_404_the_second_time(api, book):
    description = describe(book, 1)

    assert api.delete(detail_url(book.pk, description.pk)).status_code == 204
    assert api.delete(detail_url(book.pk, description.pk)).status_code == 404


def test_delete_through_another_book_is_404(api, user, book):
    elsewhere = make_book(user, title="Elsewhere")
    description = describe(elsewhere, 1)

    response = api.delete(detail_url(book.pk, description.pk))

    assert response.status_code == 404
    assert Description.objects.filter(pk=description.pk).exists()


def test_delete_by_non_owner_on_public_book_is_403(other_api, user):
    book = make_book(user, visibility="public")
    description = describe(book, 1)

    response = other_api.delete(detail_url(book.pk, description.pk))

    assert response.status_code == 403
    assert Description.objects.filter(pk=description.pk).exists()


def test_delete_by_non_owner_on_private_book_is_404(other_api, book):
    description = describe(book, 1)

    response = other_api.delete(detail_url(book.pk, description.pk))

    assert response.status_code == 404
    assert Description.objects.filter(pk=description.pk).exists()
