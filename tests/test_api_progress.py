"""Reading progress: defaults, PUT/POST, computed percent, validation, per-user isolation (docs/API.md)."""

import pytest

from reader.models import ReadingProgress
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)

PROGRESS_FIELDS = {"book_id", "chapter", "position", "cfi", "percent", "updated_at"}


def progress_url(book_id):
    return f"/api/v1/books/{book_id}/progress/"


@pytest.fixture
def book(user):
    """Chapters of 50, 100 and 150 words."""
    return make_book(user, chapters=3, words=50)


def test_default_before_any_update(api, book):
    response = api.get(progress_url(book.pk))

    assert response.status_code == 200
    assert response.json() == {
        "book_id": book.pk,
        "chapter": 1,
        "position": 0.0,
        "cfi": "",
        "percent": 0.0,
        "updated_at": None,
    }
    assert not ReadingProgress.objects.exists()


@pytest.mark.parametrize("method", ["put", "post"])
def test_update_answers_the_stored_progress(api, user, book, method):
    response = getattr(api, method)(
        progress_url(book.pk), {"chapter": 2, "position": 0.25, "cfi": "epubcfi(/6/4!/4/2)"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == PROGRESS_FIELDS
    assert body["book_id"] == book.pk
    assert body["chapter"] == 2
    assert body["position"] == 0.25
    assert body["cfi"] == "epubcfi(/6/4!/4/2)"
    assert body["updated_at"] is not None
    stored = ReadingProgress.objects.get(user=user, book=book)
    assert (stored.chapter, stored.position, stored.cfi) == (2, 0.25, "epubcfi(/6/4!/4/2)")


@pytest.mark.parametrize("method", ["put", "post"])
def test_update_is_visible_to_the_next_read(api, book, method):
    api.get(progress_url(book.pk))

    saved = getattr(api, method)(progress_url(book.pk), {"chapter": 3, "position": 0.5}, format="json").json()

    assert api.get(progress_url(book.pk)).json() == saved


def test_second_update_replaces_the_first(api, user, book):
    api.put(progress_url(book.pk), {"chapter": 1, "position": 0.2, "cfi": "a"}, format="json")

    body = api.put(progress_url(book.pk), {"chapter": 3, "position": 0.9}, format="json").json()

    assert (body["chapter"], body["position"], body["cfi"]) == (3, 0.9, "")
    assert ReadingProgress.objects.filter(user=user, book=book).count() == 1
    assert api.get(progress_url(book.pk)).json()["chapter"] == 3


def test_form_encoded_update_is_accepted(api, book):
    response = api.post(progress_url(book.pk), {"chapter": "2", "position": "0.5"})

    assert response.status_code == 200
    assert response.json()["percent"] == pytest.approx(33.33)


@pytest.mark.parametrize(
    "chapter, position, percent",
    [
        (1, 0.0, 0.0),
        (1, 1.0, 16.67),  # 50 / 300
        (2, 0.0, 16.67),
        (2, 0.5, 33.33),  # (50 + 50) / 300
        (3, 0.5, 75.0),  # (50 + 100 + 75) / 300
        (3, 1.0, 100.0),
    ],
)
def test_percent_is_computed_weighted_by_word_counts(api, book, chapter, position, percent):
    body = api.put(progress_url(book.pk), {"chapter": chapter, "position": position}, format="json").json()

    assert body["percent"] == pytest.approx(percent, abs=0.01)
    assert api.get(progress_url(book.pk)).json()["percent"] == pytest.approx(percent, abs=0.01)


def test_percent_follows_a_chapter_edit(api, book):
    api.patch(f"/api/v1/books/{book.pk}/chapters/1/", {"content": "<p>" + "w " * 250 + "</p>"}, format="json")

    body = api.put(progress_url(book.pk), {"chapter": 2, "position": 0.0}, format="json").json()

    assert body["percent"] == pytest.approx(50.0)  # 250 / (250 + 100 + 150)


@pytest.mark.parametrize("percent", [0, 12.5, 99.9, 100])
def test_explicit_percent_is_kept(api, book, percent):
    body = api.put(progress_url(book.pk), {"chapter": 1, "position": 0.1, "percent": percent}, format="json").json()

    assert body["percent"] == percent
    assert api.get(progress_url(book.pk)).json()["percent"] == percent


@pytest.mark.parametrize(
    "body",
    [
        {"chapter": 1, "position": 0},
        {"chapter": 3, "position": 1},
        {"chapter": 3, "position": 1.0, "percent": 100},
        {"chapter": 2, "position": 0.5, "percent": 0},
        {"chapter": 2, "position": 0.5, "cfi": ""},
    ],
)
def test_boundaries_are_accepted(api, book, body):
    assert api.put(progress_url(book.pk), body, format="json").status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"chapter": 0, "position": 0.5}, "chapter"),
        ({"chapter": -1, "position": 0.5}, "chapter"),
        ({"chapter": 4, "position": 0.5}, "chapter"),
        ({"chapter": 1000000, "position": 0.5}, "chapter"),
        ({"chapter": 1, "position": -0.01}, "position"),
        ({"chapter": 1, "position": 1.01}, "position"),
        ({"chapter": 1, "position": 2}, "position"),
        ({"chapter": 1, "position": 0.5, "percent": -0.1}, "percent"),
        ({"chapter": 1, "position": 0.5, "percent": 100.1}, "percent"),
        ({"chapter": 1, "position": 0.5, "percent": 1000}, "percent"),
        ({"position": 0.5}, "chapter"),
        ({"chapter": 1}, "position"),
        ({"chapter": "abc", "position": 0.5}, "chapter"),
        ({"chapter": 1.5, "position": 0.5}, "chapter"),
        ({"chapter": None, "position": 0.5}, "chapter"),
        ({"chapter": [1], "position": 0.5}, "chapter"),
        ({"chapter": {"n": 1}, "position": 0.5}, "chapter"),
        ({"chapter": 1, "position": "half"}, "position"),
        ({"chapter": 1, "position": None}, "position"),
        ({"chapter": 1, "position": "NaN"}, "position"),
        ({"chapter": 1, "position": "Infinity"}, "position"),
        ({"chapter": 1, "position": 0.5, "percent": "lots"}, "percent"),
        ({"chapter": 1, "position": 0.5, "percent": "nan"}, "percent"),
        ({"chapter": 1, "position": 0.5, "cfi": "x" * 1001}, "cfi"),
        ({"chapter": 1, "position": 0.5, "cfi": ["a"]}, "cfi"),
    ],
)
def test_invalid_progress_is_400(api, book, body, field):
    response = api.put(progress_url(book.pk), body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not ReadingProgress.objects.exists()
    assert api.get(progress_url(book.pk)).json()["updated_at"] is None


@pytest.mark.parametrize("raw", ["", "[]", "[1, 0.5]", '"chapter"', "null", "17", "{bad json"])
@pytest.mark.parametrize("method", ["put", "post"])
def test_garbage_progress_body_is_400(api, book, raw, method):
    response = getattr(api, method)(progress_url(book.pk), raw, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert not ReadingProgress.objects.exists()


def test_invalid_update_keeps_the_previous_progress(api, book):
    api.put(progress_url(book.pk), {"chapter": 2, "position": 0.5}, format="json")

    api.put(progress_url(book.pk), {"chapter": 9, "position": 0.5}, format="json")

    assert api.get(progress_url(book.pk)).json()["chapter"] == 2


# Per user


def test_reader_of_public_book_has_own_progress(api, other_api, user, other):
    book = make_book(user, visibility="public")
    api.put(progress_url(book.pk), {"chapter": 2, "position": 0.5, "cfi": "owner-cfi"}, format="json")

    response = other_api.put(progress_url(book.pk), {"chapter": 3, "position": 0.1, "cfi": "x"}, format="json")

    assert response.status_code == 200
    assert ReadingProgress.objects.filter(book=book).count() == 2
    assert ReadingProgress.objects.get(user=other, book=book).cfi == "x"
    assert ReadingProgress.objects.get(user=user, book=book).cfi == "owner-cfi"


def test_nobody_sees_anothers_progress(api, other_api, user):
    book = make_book(user, visibility="public")
    api.get(progress_url(book.pk))
    other_api.get(progress_url(book.pk))

    other_api.put(progress_url(book.pk), {"chapter": 3, "position": 0.5, "cfi": "theirs"}, format="json")

    mine = api.get(progress_url(book.pk)).json()
    theirs = other_api.get(progress_url(book.pk)).json()
    assert mine["updated_at"] is None
    assert mine["cfi"] == ""
    assert (theirs["chapter"], theirs["cfi"]) == (3, "theirs")


def test_owner_progress_is_not_shown_to_reader(api, other_api, user):
    book = make_book(user, visibility="public")
    api.put(progress_url(book.pk), {"chapter": 3, "position": 1.0}, format="json")

    theirs = other_api.get(progress_url(book.pk)).json()

    assert theirs["chapter"] == 1
    assert theirs["percent"] == 0.0
    assert theirs["updated_at"] is None


def test_progress_on_missing_book_is_404(api):
    assert api.get(progress_url(987654)).status_code == 404
    assert api.put(progress_url(987654), {"chapter": 1, "position": 0}, format="json").status_code == 404
