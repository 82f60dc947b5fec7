"""Cover: the image with ETag, Last-Modified, Cache-Control; 304; 404 without a cover (docs/API.md)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.http import parse_http_date
from ebooklib import epub

from books.models import Book
from tests import epub_factory
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)


def cover_url(book_id):
    return f"/api/v1/books/{book_id}/cover/"


def upload(client, data, **fields):
    file = SimpleUploadedFile("b.epub", data, content_type="application/epub+zip")
    response = client.post("/api/v1/books/", {"file": file, **fields}, format="multipart")
    assert response.status_code == 201, response.content
    return Book.objects.get(pk=response.json()["id"])


def body_of(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def epub_with_cover_named(file_name, media_type="image/png"):
    """A valid EPUB whose EPUB2 cover image is stored under `file_name`."""
    book = epub.EpubBook()
    book.set_identifier("cover-test")
    book.set_title("Covered")
    book.set_language("en")
    chapter = epub.EpubHtml(uid="c1", title="One", file_name="one.xhtml", lang="en")
    chapter.content = "<html><body><p>Some words to read.</p></body></html>"
    book.add_item(chapter)
    book.add_item(
        epub.EpubImage(uid="cover-img", file_name=file_name, media_type=media_type, content=epub_factory.PNG_1X1)
    )
    book.add_metadata(None, "meta", "", {"name": "cover", "content": "cover-img"})
    book.toc = [epub.Link("one.xhtml", "One", "c1")]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", chapter]
    buffer = io.BytesIO()
    epub.write_epub(buffer, book, {"raise_exceptions": True})
    return buffer.getvalue()


@pytest.fixture
def covered(api):
    return upload(api, epub_factory.make_epub(cover=True))


def test_cover_is_served(api, covered):
    response = api.get(cover_url(covered.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert body_of(response) == epub_factory.PNG_1X1


def test_cover_headers(api, covered):
    response = api.get(cover_url(covered.pk))

    etag = response["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2
    assert response["Cache-Control"] == "private, max-age=86400"
    assert parse_http_date(response["Last-Modified"]) > 0


def test_cover_etag_is_stable(api, covered):
    first = api.get(cover_url(covered.pk))
    second = api.get(cover_url(covered.pk))

    assert first["ETag"] == second["ETag"]
    assert first["Last-Modified"] == second["Last-Modified"]


def test_cover_with_current_etag_is_304_without_body(api, covered):
    etag = api.get(cover_url(covered.pk))["ETag"]

    response = api.get(cover_url(covered.pk), HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert body_of(response) == b""
    assert response["ETag"] == etag


def test_cover_etag_in_a_list_is_304(api, covered):
    etag = api.get(cover_url(covered.pk))["ETag"]

    response = api.get(cover_url(covered.pk), HTTP_IF_NONE_MATCH=f'"something-else", {etag}')

    assert response.status_code == 304


def test_cover_with_other_etag_is_200(api, covered):
    response = api.get(cover_url(covered.pk), HTTP_IF_NONE_MATCH='"not-the-etag"')

    assert response.status_code == 200
    assert body_of(response) == epub_factory.PNG_1X1


def test_cover_is_not_served_from_the_response_cache(api, covered):
    api.get(cover_url(covered.pk))

    response = api.get(cover_url(covered.pk))

    assert "X-Cache" not in response


def test_legacy_cover_is_served(api):
    book = upload(api, epub_factory.make_epub(legacy_cover=True))

    response = api.get(cover_url(book.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert body_of(response) == epub_factory.PNG_1X1


def test_cover_without_extension_is_served_as_an_image(api):
    book = upload(api, epub_with_cover_named("images/coverimage", "image/png"))

    response = api.get(cover_url(book.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"


def test_cover_of_others_public_book(api, other_api):
    book = upload(api, epub_factory.make_epub(cover=True), visibility="public")

    response = other_api.get(cover_url(book.pk))

    assert response.status_code == 200
    assert body_of(response) == epub_factory.PNG_1X1


def test_cover_of_others_private_book_is_404(other_api, covered):
    response = other_api.get(cover_url(covered.pk))

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_cover_304_does_not_leak_a_private_book(api, other_api, covered):
    etag = api.get(cover_url(covered.pk))["ETag"]

    assert other_api.get(cover_url(covered.pk), HTTP_IF_NONE_MATCH=etag).status_code == 404


def test_book_without_cover_is_404(api, user):
    book = make_book(user)

    response = api.get(cover_url(book.pk))

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_epub_without_cover_is_404(api):
    book = upload(api, epub_factory.make_epub())

    assert api.get(cover_url(book.pk)).status_code == 404


def test_cover_of_deleted_book_is_404(api, covered):
    api.get(cover_url(covered.pk))
    api.delete(f"/api/v1/books/{covered.pk}/")

    assert api.get(cover_url(covered.pk)).status_code == 404
