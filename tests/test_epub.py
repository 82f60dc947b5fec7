import hashlib
import io
import time
import tracemalloc

import pytest

from books.epub import EpubError, parse_epub
from books.text import count_words
from tests import epub_factory


def parse(data):
    return parse_epub(io.BytesIO(data))


def titles(book):
    return [chapter.title for chapter in book.chapters]


# Metadata


def test_metadata():
    book = parse(
        epub_factory.make_epub(title="The Long Road", author="Jane Writer", language="fr", description="A journey.")
    )

    assert (book.title, book.author, book.language, book.description) == (
        "The Long Road",
        "Jane Writer",
        "fr",
        "A journey.",
    )


def test_several_authors_are_joined():
    book = parse(epub_factory.make_epub(author=("Ann One", "Bob Two")))

    assert book.author == "Ann One, Bob Two"


def test_description_is_plain_text():
    book = parse(epub_factory.make_epub(description="<p>A <b>bold</b> tale &amp; more.</p>"))

    assert book.description == "A bold tale & more."


def test_missing_description_is_empty():
    assert parse(epub_factory.make_epub(description="")).description == ""


# Chapters


def test_chapters_follow_the_spine_with_navigation_titles():
    book = parse(epub_factory.make_epub())

    assert titles(book) == ["Chapter One", "Chapter Two", "Chapter Three"]
    assert "bright cold day" in book.chapters[0].content


def test_spine_order_wins_over_manifest_order():
    book = parse(epub_factory.make_epub(spine_order=[2, 0, 1]))

    assert titles(book) == ["Chapter Three", "Chapter One", "Chapter Two"]


def test_navigation_document_is_not_a_chapter():
    book = parse(epub_factory.make_epub())

    assert all("<nav" not in chapter.content for chapter in book.chapters)
    assert len(book.chapters) == len(epub_factory.DEFAULT_CHAPTERS)


def test_word_counts_of_contents():
    book = parse(epub_factory.make_epub())

    assert [count_words(chapter.content) for chapter in book.chapters] == list(epub_factory.DEFAULT_WORD_COUNTS)


def test_content_is_the_body_without_the_head():
    content = parse(epub_factory.make_epub()).chapters[0].content

    assert content == "<p>It was a bright cold day in April.</p>"


def test_documents_that_hold_nothing_are_skipped():
    chapters = [
        ("First", "<p>One two.</p>"),
        ("Blank", "<p> </p><div><span> </span></div>"),
        ("Last", "<p>Three.</p>"),
    ]

    book = parse(epub_factory.make_epub(chapters=chapters))

    assert titles(book) == ["First", "Last"]


def test_a_page_with_only_a_missing_picture_keeps_its_alt_text():
    """A picture that is not in the EPUB is removed, its alt text kept: the page is not empty."""
    chapters = [("First", "<p>One two.</p>"), ("Plate", "<p> </p><img src='x.png' alt='pic'/>")]

    book = parse(epub_factory.make_epub(chapters=chapters))

    assert titles(book) == ["First", "Plate"]
    assert "pic" in book.chapters[1].content and "<img" not in book.chapters[1].content


def test_title_falls_back_to_first_heading():
    chapters = [(None, "<p>Intro words here.</p><h3>Third Level</h3><h2>The Heading</h2>")]

    assert titles(parse(epub_factory.make_epub(chapters=chapters))) == ["Third Level"]


def test_title_falls_back_to_document_title_without_heading():
    chapters = [("Head Title", "<p>Just some words.</p>")]

    assert titles(parse(epub_factory.make_epub(chapters=chapters, in_toc=False))) == ["Head Title"]


def test_title_falls_back_to_chapter_number():
    chapters = [("Named", "<p>Some words.</p>"), (None, "<p>More words.</p>")]

    assert titles(parse(epub_factory.make_epub(chapters=chapters))) == ["Named", "Chapter 2"]


def test_navigation_title_wins_over_heading():
    chapters = [("From Nav", "<h1>From Heading</h1><p>Words.</p>")]

    assert titles(parse(epub_factory.make_epub(chapters=chapters))) == ["From Nav"]


def test_content_is_sanitised():
    body = (
        '<p onclick="steal()">Click <a href="javascript:alert(1)">here</a> now</p>'
        "<script>alert(2)</script><style>p {}</style>"
        '<p><a href="https://example.com/" class="link">safe</a></p>'
    )

    content = parse(epub_factory.make_epub(chapters=[("Dangerous", body)])).chapters[0].content

    assert "<script" not in content and "alert(2)" not in content
    assert "onclick" not in content
    assert "javascript:" not in content
    assert "<style" not in content
    assert 'href="https://example.com/"' in content and 'class="link"' in content
    assert "Click" in content and "here" in content


def test_book_without_readable_chapters_is_refused():
    with pytest.raises(EpubError, match="no readable chapters"):
        parse(epub_factory.make_epub(chapters=[("Empty", "<p></p>"), ("Blank", "<div> </div>")]))


# Cover


def test_cover():
    cover = parse(epub_factory.make_epub(cover=True)).cover

    assert cover is not None
    assert (cover.filename, cover.content_type, cover.data) == (
        "cover.png",
        "image/png",
        epub_factory.PNG_1X1,
    )
    assert cover.etag == hashlib.sha256(epub_factory.PNG_1X1).hexdigest()


def test_cover_page_is_not_a_chapter():
    book = parse(epub_factory.make_epub(cover=True))

    assert titles(book) == ["Chapter One", "Chapter Two", "Chapter Three"]


def test_epub2_cover_meta():
    cover = parse(epub_factory.make_epub(legacy_cover=True)).cover

    assert cover is not None and cover.data == epub_factory.PNG_1X1


def test_no_cover():
    assert parse(epub_factory.make_epub(cover=False)).cover is None


# Unreadable and hostile files


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (epub_factory.not_a_zip(), "not a readable ZIP"),
        (epub_factory.truncated_epub(), "not a readable ZIP"),
        (epub_factory.corrupt_epub(), "damaged"),
        (epub_factory.zip_without_container(), "META-INF/container.xml is missing"),
        (epub_factory.zip_without_opf(), "'OEBPS/content.opf' named in META-INF/container.xml is missing"),
        (epub_factory.entity_expansion_epub(), "declares XML entities"),
        (epub_factory.path_traversal_epub(), "unsafe path: '../../evil.txt'"),
        (epub_factory.encrypted_epub(), "encrypted"),
    ],
    ids=[
        "empty",
        "not-a-zip",
        "truncated",
        "corrupt",
        "no-container",
        "no-opf",
        "entities",
        "path-traversal",
        "encrypted",
    ],
)
def test_unreadable_files_are_refused(data, message):
    with pytest.raises(EpubError, match=message):
        parse(data)


def test_factory_bases_are_valid():
    """The hostile files are built from make_epub(), which must itself parse."""
    assert parse(epub_factory.make_epub()).title == "Test Book"


def test_too_many_entries(settings):
    settings.EPUB_MAX_ENTRIES = 3

    with pytest.raises(EpubError, match="at most 3"):
        parse(epub_factory.make_epub())


def test_zip_bomb_is_refused_quickly_with_little_memory(settings):
    settings.EPUB_MAX_UNCOMPRESSED_MB = 2
    data = epub_factory.zip_bomb(megabytes=16)
    assert len(data) < 1024 * 1024

    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(EpubError, match="larger than 2 MB once uncompressed"):
            parse(data)
    finally:
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    assert elapsed < 1
    assert peak < 4 * 1024 * 1024


def test_zip_bomb_under_the_cap_is_accepted(settings):
    settings.EPUB_MAX_UNCOMPRESSED_MB = 20

    assert len(parse(epub_factory.zip_bomb(megabytes=4)).chapters) == 3


def test_zip_bomb_lying_about_its_size_is_refused():
    data = epub_factory.lying_zip_bomb(megabytes=16)
    started = time.monotonic()

    with pytest.raises(EpubError, match="damaged"):
        parse(data)

    assert time.monotonic() - started < 1


def test_file_object_is_rewound():
    upload = io.BytesIO(epub_factory.make_epub())
    upload.seek(10)

    parse_epub(upload)

    assert upload.tell() == 0


def test_file_object_is_rewound_after_an_error():
    upload = io.BytesIO(epub_factory.not_a_zip())

    with pytest.raises(EpubError):
        parse_epub(upload)

    assert upload.tell() == 0


# People

EPUB2_PEOPLE = (
    "<dc:title>People</dc:title><dc:language>en</dc:language>"
    '<dc:creator opf:role="aut">Ann Author</dc:creator><dc:creator opf:role="trl">Tom Translator</dc:creator>'
    "<dc:creator>Role Less</dc:creator><dc:contributor>Somebody</dc:contributor>"
    '<dc:contributor opf:role="ill">Ida Illustrator</dc:contributor>'
)
EPUB3_PEOPLE = (
    "<dc:title>People</dc:title><dc:language>en</dc:language>"
    '<dc:creator id="a">Ann Author</dc:creator><meta refines="#a" property="role" scheme="marc:relators">aut</meta>'
    '<dc:creator id="e">Eve Editor</dc:creator><meta refines="#e" property="role" scheme="marc:relators">edt</meta>'
    '<dc:creator id="b">Bob Both</dc:creator><meta refines="#b" property="role" scheme="marc:relators">ill</meta>'
    '<meta refines="#b" property="role" scheme="marc:relators">aut</meta>'
    '<dc:contributor id="t">Tom Translator</dc:contributor><meta refines="#t" property="role">trl</meta>'
)


def people_book(metadata, version):
    return epub_factory.make_raw_epub(
        {"one.xhtml": epub_factory.xhtml("<p>Words.</p>")}, metadata=metadata, version=version
    )


def test_epub2_roles():
    book = parse(people_book(EPUB2_PEOPLE, "2.0"))

    assert book.authors == ("Ann Author", "Role Less")
    assert book.author == "Ann Author, Role Less"
    assert [(p.name, p.role) for p in book.contributors] == [
        ("Tom Translator", "trl"),
        ("Somebody", "ctb"),
        ("Ida Illustrator", "ill"),
    ]


def test_epub3_roles():
    book = parse(people_book(EPUB3_PEOPLE, "3.0"))

    assert book.authors == ("Ann Author", "Bob Both")
    assert [(p.name, p.role) for p in book.contributors] == [("Eve Editor", "edt"), ("Tom Translator", "trl")]


def test_the_main_title_wins():
    metadata = (
        '<dc:title id="t2">A Subtitle</dc:title><dc:title id="t1">The Title</dc:title>'
        '<meta refines="#t1" property="title-type">main</meta><dc:language>en</dc:language>'
    )

    assert parse(people_book(metadata, "3.0")).title == "The Title"


# Covers are checked by their bytes

COVER_DOCUMENTS = {"one.xhtml": epub_factory.xhtml("<p>Words.</p>")}


@pytest.mark.parametrize(
    ("data", "declared", "kept"),
    [
        (epub_factory.png(), "image/png", True),
        (b"\xff\xd8\xff\xe0" + bytes(64), "image/jpeg", True),
        (b"GIF89a" + bytes(64), "image/gif", True),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(64), "image/webp", True),
        (b"<html><body>not a picture</body></html>", "image/png", False),
        (epub_factory.png(), "image/jpeg", False),  # a real picture, but not of the type it claims
        (b"", "image/png", False),
    ],
    ids=["png", "jpeg", "gif", "webp", "html-as-png", "png-as-jpeg", "empty"],
)
def test_cover_must_be_a_real_image_of_its_type(data, declared, kept):
    book = parse(epub_factory.make_raw_epub(COVER_DOCUMENTS, files={"cover.img": (data, declared, "cover-image")}))

    assert (book.cover is not None) == kept
    if kept:
        assert (book.cover.data, book.cover.content_type) == (data, declared)


# Limits


def test_too_many_chapters_is_refused_naming_the_limit(settings):
    settings.BOOK_MAX_CHAPTERS = 2

    with pytest.raises(EpubError, match=r"more than 2 chapters.*\(BOOK_MAX_CHAPTERS\)"):
        parse(epub_factory.make_epub())


def test_a_chapter_too_large_is_refused_naming_the_limit(settings):
    settings.CHAPTER_MAX_MB = 1
    big = "<p>" + "word " * 220_000 + "</p>"  # 1.1 MB

    with pytest.raises(EpubError, match=r"'EPUB/chapter_2.xhtml' is larger than 1 MB.*\(CHAPTER_MAX_MB\)"):
        parse(epub_factory.make_epub(chapters=[("Small", "<p>Small.</p>"), ("Big", big)]))


def test_a_chapter_too_large_that_is_not_xml_is_refused_too(settings):
    settings.CHAPTER_MAX_MB = 1
    broken = b"<html><body><p><b>Bold</p>" + b"<p>word word word</p>" * 60_000 + b"</body></html>"

    with pytest.raises(EpubError, match=r"'OEBPS/big.html' is larger than 1 MB"):
        parse(epub_factory.make_raw_epub({"small.xhtml": epub_factory.xhtml("<p>Small.</p>"), "big.html": broken}))


def test_a_large_text_block_is_kept_whole(settings):
    """One text node over libxml2's 10 MB default: the chapter is kept, every word of it."""
    settings.CHAPTER_MAX_MB = 12
    block = "word " * 2_200_000  # 11 MB

    book = parse(epub_factory.make_raw_epub({"one.xhtml": epub_factory.xhtml(f"<p>{block}</p>")}))

    assert len(book.chapters) == 1
    assert count_words(book.chapters[0].content) == 2_200_000


def test_a_document_that_is_not_xml_is_read_as_html():
    document = b"<html><body><p>Caf&eacute; &amp; cr&egrave;me<br>on two lines<p>and more</body></html>"

    book = parse(epub_factory.make_raw_epub({"one.html": document}))

    assert "Café &amp; crème<br>on two lines" in book.chapters[0].content
    assert "and more" in book.chapters[0].content


def test_an_svg_page_of_the_spine_is_a_chapter():
    page = (
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="5" height="5"/>'
        b"<text>A drawn page</text><script>alert(1)</script></svg>"
    )
    documents = {"one.xhtml": epub_factory.xhtml("<p>Words.</p>"), "page.svg": (page, "image/svg+xml")}
    data = epub_factory.make_raw_epub(documents)

    book = parse(data)

    assert len(book.chapters) == 2
    assert book.chapters[1].content.startswith('<svg viewBox="0 0 10 10"><rect')
    assert "A drawn page" in book.chapters[1].content and "alert" not in book.chapters[1].content
