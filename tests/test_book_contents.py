"""Book contents through the API: pictures (signed URLs), links between chapters, the table of contents."""

import re
import time

import pytest
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from books import resources
from books.models import Book, Chapter, Resource, TableOfContents
from tests import epub_factory
from tests.epub_factory import make_raw_epub, png, xhtml
from tests.factories import make_book

pytestmark = pytest.mark.django_db

PICTURE = png(3, 3)
DRAWING = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9" onload="alert(1)"><script>alert(2)</script>'
    b'<circle r="4" cx="4" cy="4"/><text>Svg words</text></svg>'
)
SRC = re.compile(r'(?:src|href)="(/api/v1/books/\d+/resources/[^"]+)"')


def upload(client, data, **fields):
    file = SimpleUploadedFile("b.epub", data, content_type="application/epub+zip")
    response = client.post("/api/v1/books/", {"file": file, **fields}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def chapter(client, book_id, number):
    response = client.get(f"/api/v1/books/{book_id}/chapters/{number}/")
    assert response.status_code == 200, response.content
    return response.json()


def body_of(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def picture_book():
    return make_raw_epub(
        {
            "text/one.xhtml": xhtml(
                '<p id="top">A picture <img src="../img/red%20dot.png" alt="a red dot"/> and a drawing '
                '<img src="../img/drawing.svg" alt="drawing"/>, a tracker <img src="https://tracker.example/p.gif" '
                'alt="tracked"/> and a missing one <img src="../img/missing.png" alt="gone"/>.</p>'
                '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
                '<image xlink:href="../img/red%20dot.png" width="3" height="3"/></svg>'
            ),
        },
        files={
            "img/red dot.png": (PICTURE, "image/png", None),
            "img/drawing.svg": (DRAWING, "image/svg+xml", None),
            "img/fake.png": (b"<html>not a picture</html>", "image/png", None),
        },
    )


@pytest.fixture
def pictured(api):
    book = upload(api, picture_book())
    return book, chapter(api, book["id"], 1)


# --- pictures ---------------------------------------------------------------------


def test_pictures_are_rewritten_to_signed_urls_that_load_without_credentials(pictured):
    book, read = pictured
    urls = SRC.findall(read["content"])

    assert len(urls) == 3  # the PNG (twice: img and SVG image) and the SVG file
    anonymous = APIClient()
    for url in urls:
        assert "?s=" in url
        response = anonymous.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "private, max-age=86400"
        assert response["ETag"].startswith('"')
    png_url = next(u for u in urls if "red%20dot.png" in u)
    response = anonymous.get(png_url)
    assert response["Content-Type"] == "image/png"
    assert body_of(response) == PICTURE


def test_remote_and_missing_pictures_are_removed_and_their_alt_text_kept(pictured):
    _book, read = pictured

    assert "tracker.example" not in read["content"]
    assert "a tracker tracked and" in read["content"]
    assert "missing.png" not in read["content"] and "gone" in read["content"]


def test_svg_pictures_are_sanitised_and_sandboxed(pictured):
    _book, read = pictured
    url = next(u for u in SRC.findall(read["content"]) if "drawing.svg" in u)

    response = APIClient().get(url)

    assert response["Content-Type"] == "image/svg+xml"
    assert response["Content-Security-Policy"] == "sandbox"
    data = body_of(response)
    assert b"Svg words" in data and b"<circle" in data
    assert b"script" not in data and b"onload" not in data


def test_only_real_pictures_are_kept(api, pictured):
    book, _read = pictured

    stored = dict(Resource.objects.filter(book_id=book["id"]).values_list("path", "media_type"))

    assert stored == {"OEBPS/img/red dot.png": "image/png", "OEBPS/img/drawing.svg": "image/svg+xml"}


def test_a_changed_url_answers_404(pictured):
    book, read = pictured
    url = next(u for u in SRC.findall(read["content"]) if "red%20dot.png" in u)
    path, token = url.split("?s=")
    anonymous = APIClient()
    other = make_book(Book.objects.get(pk=book["id"]).owner)

    for changed in (
        f"{path}?s={token[:-1]}{'A' if token[-1] != 'A' else 'B'}",  # the signature
        f"{path.replace('red%20dot', 'drawing').replace('.png', '.svg')}?s={token}",  # the path
        f"{path.replace(str(book['id']), str(other.pk), 1)}?s={token}",  # the book
        f"{path}?s={token.split(':')[0]}",  # half a signature
        f"{path}?s=",
        path,  # no signature, no credentials
    ):
        assert anonymous.get(changed).status_code == 404, changed


def test_a_signature_outlives_a_cached_read_by_a_day(settings, api, pictured):
    book, _read = pictured
    cached = chapter(api, book["id"], 1)  # served from the cache this time
    url = SRC.findall(cached["content"])[0]
    token = url.split("?s=")[1]

    signed_at = signing.b62_decode(token.split(":")[0])
    latest_read = time.time() + settings.REDIS_CACHE_DEFAULT_TTL  # the cached answer lives this long
    assert signed_at + resources.max_age() >= latest_read + 24 * 60 * 60
    assert APIClient().get(url).status_code == 200


def test_an_expired_signature_answers_404(pictured):
    book, _read = pictured
    path = "OEBPS/img/red dot.png"

    class ThreeDaysAgo(resources._DaySigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - resources.max_age() - 1)

    token = ThreeDaysAgo(salt=resources._SALT).sign(f"{book['id']}/{path}").split(":", 1)[1]

    url = f"/api/v1/books/{book['id']}/resources/OEBPS/img/red%20dot.png?s={token}"
    assert APIClient().get(url).status_code == 404


def test_a_new_secret_key_retires_every_signed_url(settings, pictured):
    _book, read = pictured
    url = SRC.findall(read["content"])[0]

    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"

    assert APIClient().get(url).status_code == 404


def test_the_path_loads_with_a_readers_token(api, other_api, user, pictured):
    book, _read = pictured
    path_url = f"/api/v1/books/{book['id']}/resources/OEBPS/img/red%20dot.png"

    assert api.get(path_url).status_code == 200
    assert other_api.get(path_url).status_code == 404  # a private book: like one that does not exist
    Book.objects.filter(pk=book["id"]).update(visibility="public")
    assert other_api.get(path_url).status_code == 200
    assert api.get(f"/api/v1/books/{book['id']}/resources/OEBPS/img/nothing.png").status_code == 404
    assert api.get(f"/api/v1/books/{book['id'] + 1000}/resources/OEBPS/img/red%20dot.png").status_code == 404


def test_etag_answers_304(api, pictured):
    book, _read = pictured
    path_url = f"/api/v1/books/{book['id']}/resources/OEBPS/img/red%20dot.png"
    etag = api.get(path_url)["ETag"]

    response = api.get(path_url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response["ETag"] == etag


def test_a_chapter_edited_with_its_signed_urls_keeps_its_pictures(api, pictured):
    book, read = pictured

    response = api.patch(f"/api/v1/books/{book['id']}/chapters/1/", {"content": read["content"]}, format="json")

    assert response.status_code == 200
    stored = Chapter.objects.get(book_id=book["id"], number=1).content
    assert "?s=" not in stored and stored.count("/resources/OEBPS/img/") == 3
    for url in SRC.findall(response.json()["content"]):
        assert APIClient().get(url).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_picture_files_are_deleted_with_the_book(api):
    book = upload(api, picture_book())
    names = list(Resource.objects.filter(book_id=book["id"]).values_list("file", flat=True))
    assert names and all(default_storage.exists(name) for name in names)

    assert api.delete(f"/api/v1/books/{book['id']}/").status_code == 204

    assert not any(default_storage.exists(name) for name in names)


# --- links ------------------------------------------------------------------------


def linked_book():
    return make_raw_epub(
        {
            "cover.xhtml": xhtml('<img src="cover.png" alt="Cover"/>'),
            "text/ch1.xhtml": xhtml(
                '<h1 id="start">One</h1><p>To <a href="ch2.xhtml#part">the part</a>, '
                '<a href="ch2.xhtml">the top</a>, <a href="ch2.xhtml#nowhere">a lost anchor</a>, '
                '<a href="../cover.xhtml">the cover page</a>, <a href="#note1">a note</a>, '
                '<a href="#missing">nothing</a>, <a href="notes.html#fn:1">calibre note</a>, '
                '<a href="../style.css">a file</a>, <a href="mailto:a@example.com">mail</a>, '
                '<a href="ftp://example.com/x">ftp</a>, <a href="https://example.com/">web</a>.</p>'
                '<aside id="note1"><p>Note.</p></aside>'
            ),
            "text/ch2.xhtml": xhtml('<p>Two.</p><section id="part"><p>Part.</p><a name="old"/>Old anchor.</section>'),
            "text/notes.html": xhtml('<p id="fn:1">The note, split out by calibre.</p><a href="ch1.xhtml#start">b</a>'),
        },
        files={"cover.png": (PICTURE, "image/png", "cover-image"), "style.css": (b"p {}", "text/css", None)},
    )


def test_links_between_chapters(api):
    book = upload(api, linked_book())
    read = chapter(api, book["id"], 1)["content"]
    base = f"/api/v1/books/{book['id']}/chapters"

    assert f'<a href="{base}/2/#part" data-chapter="2"' in read
    assert f'<a href="{base}/2/" data-chapter="2" rel="noopener noreferrer nofollow">the top</a>' in read
    assert f'<a href="{base}/2/" data-chapter="2" rel="noopener noreferrer nofollow">a lost anchor</a>' in read
    # the cover page holds nothing and is not a chapter: its links go to the chapter after it
    assert f'<a href="{base}/1/" data-chapter="1" rel="noopener noreferrer nofollow">the cover page</a>' in read
    assert '<a href="#note1" rel="noopener noreferrer nofollow">a note</a>' in read
    assert f'<a href="{base}/3/#fn:1" data-chapter="3"' in read
    for unlinked in ("nothing", "a file", "ftp"):
        assert f'<a rel="noopener noreferrer nofollow">{unlinked}</a>' in read
    assert '<a href="mailto:a@example.com" rel="noopener noreferrer nofollow">mail</a>' in read
    assert '<a href="https://example.com/" rel="noopener noreferrer nofollow">web</a>' in read
    assert '<a id="old"' in chapter(api, book["id"], 2)["content"]
    assert f'href="{base}/1/#start" data-chapter="1"' in chapter(api, book["id"], 3)["content"]


def test_json_chapters_keep_fragments_and_links_to_their_own_chapters(api):
    created = api.post(
        "/api/v1/books/",
        {
            "title": "Linked",
            "chapters": [
                {"title": "One", "content": '<p id="a">One <a href="#a">self</a> <img src="x.png" alt="pic"></p>'},
                {"title": "Two", "content": '<p><a href="https://example.com/">web</a> <a href="x.html">x</a></p>'},
            ],
        },
        format="json",
    ).json()

    one, two = chapter(api, created["id"], 1)["content"], chapter(api, created["id"], 2)["content"]

    assert '<a href="#a" rel="noopener noreferrer nofollow">self</a>' in one
    assert "<img" not in one and "pic" in one
    assert '<a href="https://example.com/"' in two and '<a rel="noopener noreferrer nofollow">x</a>' in two


# --- table of contents ------------------------------------------------------------

NAV = (
    '<nav epub:type="toc"><ol>'
    '<li><a href="text/ch1.xhtml">One</a><ol><li><a href="text/ch1.xhtml#note1">The note</a></li></ol></li>'
    '<li><span>A heading without a link</span><ol><li><a href="text/ch2.xhtml#part">The part</a></li>'
    '<li><a href="text/ch2.xhtml#gone">A lost anchor</a></li></ol></li>'
    '<li><a href="text/notes.html#fn:1">Notes</a></li><li><a href="https://example.com/">Elsewhere</a></li>'
    "</ol></nav>"
)
NCX = (
    '<navPoint id="n1"><navLabel><text>First</text></navLabel><content src="text/ch1.xhtml"/>'
    '<navPoint id="n2"><navLabel><text>Its note</text></navLabel><content src="text/ch1.xhtml#note1"/></navPoint>'
    '</navPoint><navPoint id="n3"><navLabel><text>Second</text></navLabel><content src="text/ch2.xhtml#part"/>'
    "</navPoint>"
)


def toc_book(**navigation):
    documents = {
        "text/ch1.xhtml": xhtml('<h1>One</h1><aside id="note1"><p>Note.</p></aside>'),
        "text/ch2.xhtml": xhtml('<p>Two.</p><section id="part"><p>Part.</p></section>'),
        "text/notes.html": xhtml('<p id="fn:1">The note.</p>'),
    }
    return make_raw_epub(documents, **navigation)


def entry(title, chapter, fragment="", children=()):
    return {"title": title, "chapter": chapter, "fragment": fragment, "children": list(children)}


def test_toc_from_the_epub3_nav(api):
    book = upload(api, toc_book(nav=NAV, ncx=NCX))

    response = api.get(f"/api/v1/books/{book['id']}/toc/")

    assert response.status_code == 200
    assert response.json() == [
        entry("One", 1, "", [entry("The note", 1, "note1")]),
        entry("A heading without a link", 2, "part", [entry("The part", 2, "part"), entry("A lost anchor", 2)]),
        entry("Notes", 3, "fn:1"),
    ]


def test_toc_from_the_epub2_ncx(api):
    book = upload(api, toc_book(ncx=NCX, version="2.0"))

    assert api.get(f"/api/v1/books/{book['id']}/toc/").json() == [
        entry("First", 1, "", [entry("Its note", 1, "note1")]),
        entry("Second", 2, "part"),
    ]


def test_navigation_titles_name_the_chapters(api):
    book = upload(api, toc_book(ncx=NCX, version="2.0"))

    titles = [c["title"] for c in api.get(f"/api/v1/books/{book['id']}/chapters/").json()]

    assert titles == ["First", "Second", "Document"]  # the last one: its <title>, for want of better


def test_toc_of_a_book_without_navigation_and_of_a_json_book(api, user):
    without = upload(api, toc_book())
    json_book = make_book(user, chapters=2)

    assert api.get(f"/api/v1/books/{without['id']}/toc/").json() == [
        entry("One", 1),
        entry("Document", 2),
        entry("Document", 3),
    ]
    assert api.get(f"/api/v1/books/{json_book.pk}/toc/").json() == [entry("Chapter 1", 1), entry("Chapter 2", 2)]


def test_toc_entries_of_a_deleted_chapter_move_up(api):
    book = upload(api, toc_book(nav=NAV))
    Chapter.objects.filter(book_id=book["id"], number=1).delete()

    toc = api.get(f"/api/v1/books/{book['id']}/toc/").json()

    assert [e["title"] for e in toc] == ["A heading without a link", "Notes"]
    assert TableOfContents.objects.get(book_id=book["id"]).entries[0]["title"] == "One"  # stored as the book has it


def test_toc_is_read_like_the_book(api, other_api, anon, user):
    private = make_book(user)
    public = make_book(user, visibility="public")

    assert other_api.get(f"/api/v1/books/{private.pk}/toc/").status_code == 404
    assert other_api.get(f"/api/v1/books/{public.pk}/toc/").status_code == 200
    assert other_api.get(f"/api/v1/books/{private.pk + 1000}/toc/").status_code == 404
    assert anon.get(f"/api/v1/books/{public.pk}/toc/").status_code == 401


def test_a_deep_toc_is_flattened_past_sixteen_levels(api):
    nested = '<li><a href="text/ch1.xhtml">Level {n}</a><ol>{inner}</ol></li>'
    inner = ""
    for n in reversed(range(40)):
        inner = nested.format(n=n, inner=inner)
    book = upload(api, toc_book(nav=f'<nav epub:type="toc"><ol>{inner}</ol></nav>'))

    toc = api.get(f"/api/v1/books/{book['id']}/toc/").json()

    depth, level = 0, toc
    while level and level[0]["children"]:
        level, depth = level[0]["children"], depth + 1
    assert depth == 16
    assert len(level) == 40 - 16  # the deeper levels kept, one after the other


def test_cover_page_and_default_cover(api):
    book = upload(api, epub_factory.make_epub(cover=True))

    assert book["has_cover"] is True
    assert [c["title"] for c in api.get(f"/api/v1/books/{book['id']}/chapters/").json()][0] == "Chapter One"


@pytest.mark.django_db(transaction=True)
def test_toc_is_the_seventh_cached_read(api, other_api, user):
    from cacheadmin import operations
    from tests import cacheadmin_support as support

    book = make_book(user, chapters=2, visibility="public")
    url = f"/api/v1/books/{book.pk}/toc/"
    first, second = other_api.get(url), other_api.get(url)
    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
    assert [entry["title"] for entry in second.json()] == ["Chapter 1", "Chapter 2"]
    assert f"book:{book.pk}:toc" in support.response_keys()

    assert api.patch(f"/api/v1/books/{book.pk}/", {"visibility": "private"}, format="json").status_code == 200
    assert other_api.get(url).status_code == 404  # retired with the book, access checked

    operations.clear_books([book.pk])
    operations.warm(book_ids=[book.pk])
    assert api.get(url)["X-Cache"] == "HIT"  # in the book's warm plan
