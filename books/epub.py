"""EPUB import: turn an uploaded file into metadata, chapters and a cover.

The archive is checked with zipfile first (size, names, entities) so that ebooklib
only ever sees files that are safe to load into memory and parse.
"""

import hashlib
import html
import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from urllib.parse import unquote

import ebooklib
import lxml.etree
import lxml.html
from django.conf import settings
from ebooklib import epub

from books.text import count_words, plain_text, sanitize_html


class EpubError(ValueError):
    """The file is not a readable EPUB; str(error) is the message shown to the client."""


@dataclass(frozen=True)
class Cover:
    filename: str
    data: bytes
    content_type: str
    etag: str  # hex digest of data


@dataclass(frozen=True)
class ParsedChapter:
    title: str
    content: str  # sanitised XHTML of the body


@dataclass(frozen=True)
class ParsedBook:
    title: str
    author: str = ""
    language: str = "en"
    description: str = ""
    chapters: list = field(default_factory=list)
    cover: Cover | None = None


CONTAINER_PATH = "META-INF/container.xml"
_CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
_OPF_MEDIA_TYPE = "application/oebps-package+xml"
_CHUNK_SIZE = 64 * 1024
_ENTITY_DECLARATION = b"<!ENTITY"
# SVG can carry scripts, so only raster images are accepted as covers.
_COVER_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
# What zipfile and zlib raise on damaged archives.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
)


def parse_epub(fileobj):
    """Read an EPUB file object into a ParsedBook; raises EpubError if it is unreadable."""
    fileobj.seek(0)
    try:
        _validate_archive(fileobj)
        fileobj.seek(0)
        book = _read_with_ebooklib(fileobj)
    finally:
        fileobj.seek(0)
    chapters = _chapters(book)
    if not chapters:
        raise EpubError("The EPUB has no readable chapters.")
    return ParsedBook(
        title=_single_line(_first(_dc_values(book, "title"))),
        author=", ".join(_single_line(name) for name in _dc_values(book, "creator")),
        language=_single_line(_first(_dc_values(book, "language"))) or "en",
        description=plain_text(_first(_dc_values(book, "description"))).strip(),
        chapters=chapters,
        cover=_cover(book),
    )


# Archive checks


def _validate_archive(fileobj):
    if not fileobj.read(1):
        raise EpubError("The file is empty.")
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            _check_directory(archive)
            _check_contents(archive)
            _check_package_path(archive)
    except EpubError:
        raise
    except _ZIP_ERRORS as error:
        raise EpubError("The file is not an EPUB: it is not a readable ZIP archive, or it is damaged.") from error


def _check_directory(archive):
    """Refuse from the zip directory alone what must not be decompressed or trusted."""
    entries = archive.infolist()
    max_entries = getattr(settings, "EPUB_MAX_ENTRIES", 5000)
    if len(entries) > max_entries:
        raise EpubError(f"The EPUB holds {len(entries)} files; at most {max_entries} are allowed.")
    if sum(entry.file_size for entry in entries) > _max_uncompressed_bytes():
        raise EpubError(f"The EPUB is larger than {_max_uncompressed_mb()} MB once uncompressed.")
    for entry in entries:
        if _is_unsafe_name(entry.filename):
            raise EpubError(f"The EPUB contains a file with an unsafe path: {entry.filename!r}.")
        if entry.flag_bits & 0x1:
            raise EpubError("The EPUB is encrypted (password-protected ZIP entries).")
    if CONTAINER_PATH not in archive.namelist():
        raise EpubError(f"The file is not an EPUB: {CONTAINER_PATH} is missing.")


def _is_unsafe_name(name):
    path = name.replace("\\", "/")
    return path.startswith("/") or ".." in path.split("/") or re.match(r"[A-Za-z]:", path) is not None


def _check_contents(archive):
    """Decompress every entry once, with a running size limit, looking for entity declarations.

    The limit holds even when the directory lies about sizes; reading also checks the CRCs.
    Every entry is scanned because ebooklib chooses a parser by the manifest's media type,
    not by the file name.
    """
    budget = _max_uncompressed_bytes()
    for entry in archive.infolist():
        budget = _scan_entry(archive, entry, budget)


def _scan_entry(archive, entry, budget):
    tail = b""
    with archive.open(entry) as stream:
        while chunk := stream.read(_CHUNK_SIZE):
            budget -= len(chunk)
            if budget < 0:
                raise EpubError(f"The EPUB is larger than {_max_uncompressed_mb()} MB once uncompressed.")
            # UTF-16 and UTF-32 put NUL bytes between ASCII characters: drop them to see the text.
            window = tail + chunk.replace(b"\x00", b"")
            if _ENTITY_DECLARATION in window:
                raise EpubError(f"The EPUB file {entry.filename!r} declares XML entities, which are not allowed.")
            tail = window[-(len(_ENTITY_DECLARATION) - 1) :]
    return budget


def _check_package_path(archive):
    path = _package_path(archive.read(CONTAINER_PATH))
    if not path:
        raise EpubError(f"{CONTAINER_PATH} does not name the book's package (OPF) file.")
    if posixpath.normpath(path) not in archive.namelist():
        raise EpubError(f"The package file {path!r} named in {CONTAINER_PATH} is missing.")


def _package_path(container_xml):
    parser = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    root = lxml.etree.fromstring(container_xml, parser=parser)
    if root is None:
        return None
    for rootfile in root.iter(f"{{{_CONTAINER_NS}}}rootfile"):
        if rootfile.get("media-type") == _OPF_MEDIA_TYPE and rootfile.get("full-path"):
            return rootfile.get("full-path")
    return None


def _max_uncompressed_mb():
    return getattr(settings, "EPUB_MAX_UNCOMPRESSED_MB", 300)


def _max_uncompressed_bytes():
    return _max_uncompressed_mb() * 1024 * 1024


def _read_with_ebooklib(fileobj):
    try:
        return epub.read_epub(fileobj, options={"ignore_ncx": True})
    # ebooklib fails on malformed packages with whatever error it meets (KeyError, IndexError...).
    except Exception as error:
        detail = error.msg if isinstance(error, epub.EpubException) else type(error).__name__
        raise EpubError(f"The EPUB's package (OPF) could not be read: {detail}.") from error


# Metadata


def _metadata(book, namespace, name):
    try:
        return book.get_metadata(namespace, name)
    except KeyError:  # the namespace is absent altogether
        return []


def _dc_values(book, name):
    return [value.strip() for value, _attributes in _metadata(book, "DC", name) if value and value.strip()]


def _first(values):
    return values[0] if values else ""


def _single_line(text):
    return " ".join((text or "").split())


# Chapters


def _chapters(book):
    toc_titles = _toc_titles(book.toc)
    chapters = []
    for item in _spine_documents(book):
        document = _parse_document(item.content)
        body = document.find("body") if document is not None else None
        if body is None:
            continue
        content = sanitize_html(_inner_html(body)).strip()
        if not count_words(content):
            continue
        title = (
            toc_titles.get(posixpath.normpath(item.file_name))
            or _first_heading(body)
            or _single_line(document.findtext("head/title"))
            or f"Chapter {len(chapters) + 1}"
        )
        chapters.append(ParsedChapter(title=title, content=content))
    return chapters


def _spine_documents(book):
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue
        yield item


def _toc_titles(toc):
    """Map each document path in the navigation to its first title."""
    titles = {}
    for entry in _walk_toc(toc):
        href, title = getattr(entry, "href", ""), _single_line(getattr(entry, "title", ""))
        if href and title:
            path = posixpath.normpath(unquote(href.split("#", 1)[0]))
            titles.setdefault(path, title)
    return titles


def _walk_toc(entries):
    """book.toc holds Links and (Section, [children]) pairs, nested to any depth."""
    for entry in entries:
        if isinstance(entry, tuple | list):
            section, children = entry
            yield section
            yield from _walk_toc(children)
        else:
            yield entry


def _parse_document(content):
    if not content or not content.strip():
        return None
    try:
        return lxml.html.document_fromstring(content, parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (lxml.etree.ParserError, ValueError):
        return None


def _inner_html(body):
    text = html.escape(body.text or "", quote=False)
    return text + "".join(lxml.html.tostring(child, encoding="unicode") for child in body)


def _first_heading(body):
    headings = body.xpath("(.//h1 | .//h2 | .//h3)[1]")
    return _single_line(headings[0].text_content()) if headings else ""


# Cover


def _cover(book):
    for item in _cover_candidates(book):
        data = item.get_content() if item is not None and item.media_type in _COVER_TYPES else None
        if data:
            return Cover(
                filename=posixpath.basename(item.file_name),
                data=data,
                content_type=item.media_type,
                etag=hashlib.sha256(data).hexdigest(),
            )
    return None


def _cover_candidates(book):
    # ebooklib turns EPUB3 `properties="cover-image"` items into ITEM_COVER items.
    yield from book.get_items_of_type(ebooklib.ITEM_COVER)
    # EPUB2 <meta name="cover" content="item-id">; ebooklib files it under "meta" or "cover".
    for key in ("meta", "cover"):
        for _value, attributes in _metadata(book, "OPF", key):
            if (attributes or {}).get("name") == "cover":
                yield book.get_item_with_id(attributes.get("content"))
