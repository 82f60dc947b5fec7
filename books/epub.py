"""EPUB import: an uploaded file read as metadata, pictures, chapters and a table of contents.

The archive is checked with zipfile first (size, names, entities). Then ``EpubBook``
reads the package (OPF) and the navigation, and *plans* the chapters: every document of
the spine is parsed once to learn whether it holds anything (a cover page does not),
which ids it has, and its title, so that links between documents can be rewritten to
chapter numbers and fragments that exist; limits are checked there, before anything is
stored. ``chapters()`` then reads, sanitises and yields one document at a time: the
import never holds more than one chapter, and never a copy of the whole book.
"""

import hashlib
import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import lxml.etree
import lxml.html
from django.conf import settings

from books import limits, memory
from books.links import EpubLinks, Target
from books.resources import RASTER_TYPES, SVG_TYPE, image_type
from books.text import normalise, plain_text, prepare, sanitize_svg, sanitize_tree


class EpubError(ValueError):
    """The file is not a readable EPUB; str(error) is the message shown to the client."""


@dataclass(frozen=True)
class Cover:
    filename: str
    data: bytes
    content_type: str
    etag: str  # hex digest of data


@dataclass(frozen=True)
class Person:
    name: str
    role: str  # a MARC relator code


@dataclass(frozen=True)
class Picture:
    path: str  # inside the EPUB
    media_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedChapter:
    title: str
    content: str  # sanitised HTML of the body


@dataclass(frozen=True)
class Metadata:
    title: str = ""
    authors: tuple = ()
    contributors: tuple = ()  # of Person
    language: str = "en"
    description: str = ""

    @property
    def author(self):
        return ", ".join(self.authors)


@dataclass(frozen=True)
class ParsedBook:
    """Everything at once, for tests and small tools (the import streams instead)."""

    metadata: Metadata
    chapters: list = field(default_factory=list)
    cover: Cover | None = None
    toc: list = field(default_factory=list)
    pictures: list = field(default_factory=list)

    def __getattr__(self, name):  # title, author, authors, language, ...
        return getattr(self.metadata, name)


CONTAINER_PATH = "META-INF/container.xml"
_CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
_OPF_MEDIA_TYPE = "application/oebps-package+xml"
_OPF_NS = "http://www.idpf.org/2007/opf"
# Content documents of the spine: XHTML (or HTML), and EPUB 3's SVG pages.
_DOCUMENT_TYPES = {"application/xhtml+xml", "text/html", "application/html+xml", "image/svg+xml"}
_NCX_TYPE = "application/x-dtbncx+xml"
_CHUNK_SIZE = 64 * 1024
_ENTITY_DECLARATION = b"<!ENTITY"
_MAX_TOC_DEPTH = 16
_MEDIA_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
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
_WORD = re.compile(r"\w", re.UNICODE)


def parse_epub(fileobj, book_id=0):
    """Read a whole EPUB at once into a ParsedBook; raises EpubError if it is unreadable."""
    with EpubBook(fileobj) as book:
        pictures = list(book.pictures())
        chapters = list(book.chapters(book_id, {picture.path for picture in pictures}))
        return ParsedBook(book.metadata, chapters, book.cover, book.toc(), pictures)


@dataclass
class _Item:
    id: str
    path: str  # inside the archive
    media_type: str
    properties: frozenset


@dataclass
class _Document:
    path: str
    title: str = ""
    ids: frozenset = frozenset()
    number: int | None = None  # None: holds nothing, not a chapter


class EpubBook:
    """An open, checked EPUB whose chapters are planned; use it as a context manager."""

    def __init__(self, fileobj):
        self._file = fileobj
        self._zip = None
        try:
            fileobj.seek(0)
            _validate_archive(fileobj)
            fileobj.seek(0)
            self._open()
            self._plan()
        except BaseException:
            self.close()
            raise

    def _open(self):
        try:
            self._zip = zipfile.ZipFile(self._file)
            self._read_package()
        except EpubError:
            raise
        except _ZIP_ERRORS as error:
            raise EpubError("The file is not an EPUB: it is not a readable ZIP archive, or it is damaged.") from error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._zip is not None:
            self._zip.close()
        self._file.seek(0)

    # package

    def _read_package(self):
        self.package_path = _package_path(self._zip.read(CONTAINER_PATH))
        package = _parse_xml(self._read(self.package_path, "package (OPF) file"))
        if package is None or _local(package) != "package":
            raise EpubError("The EPUB's package (OPF) could not be read: it is not a package document.")
        self._manifest = _manifest(package, posixpath.dirname(self.package_path), set(self._zip.namelist()))
        self._by_path = {item.path: item for item in self._manifest.values()}
        self._spine, toc_id = _spine(package, self._manifest)
        self.metadata = _metadata(package)
        self.cover = self._find_cover(package)
        self._navigation = self._find_navigation(toc_id)

    def _read(self, path, what="document"):
        """The bytes of one file of the archive, at most CHAPTER_MAX_MB of them."""
        with self._zip.open(path) as stream:
            return _Limited(stream, path, what).read()

    def _document(self, path, what="document"):
        """A document's normalised tree, parsed as it is decompressed (never held as bytes).

        XML first; a document that is not well-formed XML is parsed again as HTML.
        """
        try:
            with self._zip.open(path) as stream:
                root = lxml.etree.parse(_Limited(stream, path, what), parser=_xml_parser(recover=False)).getroot()
        except lxml.etree.XMLSyntaxError:
            root = None
        if root is None:
            try:
                with self._zip.open(path) as stream:
                    parser = lxml.html.HTMLParser(huge_tree=True, encoding="utf-8")
                    root = lxml.html.parse(_Limited(stream, path, what), parser=parser).getroot()
            except EpubError:
                raise  # over CHAPTER_MAX_MB (a ValueError too): said, never skipped
            except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError):
                root = None
        return normalise(root) if root is not None else None

    # the plan

    def _plan(self):
        language = self.metadata.language
        cover_path = self.cover_path
        images = {item.path for item in self._manifest.values() if _is_picture_type(item.media_type)}
        toc_titles = _first_titles(self._navigation[1], self._navigation[0]) if self._navigation else {}
        documents, numbers = [], 0
        for item in self._spine:
            document = _Document(item.path)
            root = self._document(item.path)
            body = _content_of(root, language)
            if body is not None:
                prepare(body, _PlanLinks(item.path, images))
                if _holds_something(body, cover_path):
                    numbers += 1
                    if numbers > limits.max_chapters():
                        raise EpubError(limits.too_many_chapters("The EPUB"))
                    document.number = numbers
                    document.ids = frozenset(filter(None, (e.get("id") for e in body.iter())))
                    document.title = (
                        toc_titles.get(item.path)
                        or _first_heading(body)
                        or _single_line(root.findtext("head/title"))
                        or f"Chapter {numbers}"
                    )
            documents.append(document)
            del root, body
        if not numbers:
            raise EpubError("The EPUB has no readable chapters.")
        self._documents = documents
        self._targets = _targets(documents)

    # reading

    def chapters(self, book_id, pictures):
        """Yield each chapter in order, sanitised, its pictures and links rewritten."""
        language = self.metadata.language
        for document in self._documents:
            if document.number is None:
                continue
            root = self._document(document.path)
            body = _content_of(root, language)
            links = EpubLinks(book_id, document.path, self._targets, pictures)
            content = sanitize_tree(body, links) if body is not None else ""
            del root, body
            memory.release_after(len(content))  # the tree and nh3's copies, before the content is stored
            chapter = ParsedChapter(title=document.title[:500], content=content)
            del content
            yield chapter
            del chapter  # hold one chapter at a time

    def pictures(self):
        """Yield the book's pictures that are what they claim: raster images by their bytes, SVG sanitised."""
        for item in self._manifest.values():
            if not _is_picture_type(item.media_type):
                continue
            data = self._zip.read(item.path)
            if item.media_type == SVG_TYPE:
                data = sanitize_svg(data)
                media_type = SVG_TYPE if data is not None else None
            else:
                media_type = image_type(data)
            if media_type is not None:
                yield Picture(item.path, media_type, data)
            del data

    def toc(self):
        """The book's own table of contents, as chapter numbers and fragments."""
        if not self._navigation:
            return []
        path, entries = self._navigation
        return _resolve_toc(entries, path, self._targets)

    # cover

    @property
    def cover_path(self):
        return self._cover_item.path if self._cover_item else None

    def _find_cover(self, package):
        self._cover_item = None
        for item in self._cover_candidates(package):
            declared = _MEDIA_TYPE_ALIASES.get(item.media_type, item.media_type)
            if declared not in RASTER_TYPES:
                continue
            data = self._zip.read(item.path)
            if image_type(data) == declared:  # its bytes are an image of the type it claims
                self._cover_item = item
                return Cover(posixpath.basename(item.path), data, declared, hashlib.sha256(data).hexdigest())
        return None

    def _cover_candidates(self, package):
        for item in self._manifest.values():
            if "cover-image" in item.properties:
                yield item
        for meta in _descendants(package, "meta"):
            if meta.get("name") == "cover" and meta.get("content"):
                reference = meta.get("content").strip()
                item = self._manifest.get(reference) or self._by_path.get(self._package_relative(reference))
                if item is not None:
                    yield item

    def _package_relative(self, href):
        return posixpath.normpath(posixpath.join(posixpath.dirname(self.package_path), unquote(href)))

    # navigation

    def _find_navigation(self, toc_id):
        """(path, raw entries) of the EPUB 3 nav, else of the EPUB 2 NCX; None without either."""
        nav = next((item for item in self._manifest.values() if "nav" in item.properties), None)
        if nav is not None:
            entries = _nav_entries(self._document(nav.path, "navigation document"))
            if entries:
                return nav.path, entries
        ncx = self._manifest.get(toc_id) if toc_id else None
        if ncx is None:
            ncx = next((item for item in self._manifest.values() if item.media_type == _NCX_TYPE), None)
        if ncx is not None:
            entries = _ncx_entries(_parse_xml(self._read(ncx.path, "table of contents (NCX)")))
            if entries:
                return ncx.path, entries
        return None


# --- archive checks ------------------------------------------------------------------


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
    Every entry is scanned: what parses a file is chosen by the manifest's media type,
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
    root = _parse_xml(container_xml)
    if root is None:
        return None
    for rootfile in root.iter(f"{{{_CONTAINER_NS}}}rootfile"):
        if rootfile.get("media-type") == _OPF_MEDIA_TYPE and rootfile.get("full-path"):
            return posixpath.normpath(rootfile.get("full-path"))
    return None


def _max_uncompressed_mb():
    return getattr(settings, "EPUB_MAX_UNCOMPRESSED_MB", 300)


def _max_uncompressed_bytes():
    return _max_uncompressed_mb() * 1024 * 1024


# --- XML helpers -----------------------------------------------------------------------


def _xml_parser(recover):
    return lxml.etree.XMLParser(
        recover=recover, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, remove_comments=True
    )


def _parse_xml(data):
    try:
        return lxml.etree.fromstring(data, parser=_xml_parser(recover=True))
    except (lxml.etree.XMLSyntaxError, ValueError):
        return None


class _Limited:
    """A file object that refuses to give more than CHAPTER_MAX_MB of a document."""

    def __init__(self, stream, path, what):
        self._stream, self._path, self._what = stream, path, what
        self._left = limits.chapter_max_bytes()

    def read(self, size=-1):
        data = self._stream.read(self._left + 1 if size is None or size < 0 else min(size, self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise EpubError(limits.chapter_too_large_message(f"The EPUB's {self._what} {self._path!r}"))
        return data


def _local(element):
    return lxml.etree.QName(element).localname if isinstance(element.tag, str) else ""


def _children(element, name):
    return [child for child in element if _local(child) == name]


def _descendants(element, name):
    return [child for child in element.iter() if _local(child) == name]


def _single_line(text):
    return " ".join((text or "").split())


# --- package ---------------------------------------------------------------------------


def _manifest(package, base, names):
    items = {}
    for manifest in _children(package, "manifest")[:1]:
        for element in _children(manifest, "item"):
            item_id, href = element.get("id"), element.get("href")
            if not item_id or not href or urlsplit(href).scheme:
                continue
            path = posixpath.normpath(posixpath.join(base, unquote(href.split("#", 1)[0])))
            if path in names:
                media_type = (element.get("media-type") or "").strip().lower()
                properties = frozenset((element.get("properties") or "").split())
                items[item_id] = _Item(item_id, path, media_type, properties)
    return items


def _spine(package, manifest):
    documents, seen, toc_id = [], set(), None
    for spine in _children(package, "spine")[:1]:
        toc_id = spine.get("toc")
        for itemref in _children(spine, "itemref"):
            item = manifest.get(itemref.get("idref"))
            if item is None or item.path in seen or item.media_type not in _DOCUMENT_TYPES:
                continue
            if "nav" in item.properties:
                continue  # the table of contents is served as such, not as a chapter
            seen.add(item.path)
            documents.append(item)
    return documents, toc_id


def _metadata(package):
    metadata = next(iter(_children(package, "metadata")), None)
    if metadata is None:
        return Metadata()
    refinements = _refinements(metadata)
    titles = _dc(metadata, "title")
    main = [t for t in titles if "main" in refinements.get(t.get("id"), {}).get("title-type", [])]
    authors, contributors = _people(metadata, refinements)
    language = next((_single_line(e.text) for e in _dc(metadata, "language") if _single_line(e.text)), "")
    description = next((e.text for e in _dc(metadata, "description") if (e.text or "").strip()), "")
    chosen = main or titles
    return Metadata(
        title=_single_line(chosen[0].text) if chosen else "",
        authors=tuple(authors),
        contributors=tuple(contributors),
        language=language or "en",
        description=plain_text(description).strip(),
    )


def _dc(metadata, name):
    """Dublin Core elements by name (old OPFs nest them and capitalise them: dc:Title)."""
    return [e for e in metadata.iter() if _local(e).lower() == name and _single_line(e.text)]


def _refinements(metadata):
    """EPUB 3 <meta refines="#id" property="..."> values, by id and property."""
    refined = {}
    for meta in _descendants(metadata, "meta"):
        target, prop = (meta.get("refines") or "").strip(), (meta.get("property") or "").strip()
        if target.startswith("#") and prop:
            refined.setdefault(target[1:], {}).setdefault(prop, []).append(_single_line(meta.text))
    return refined


def _people(metadata, refinements):
    """Creators and contributors: authors are creators whose role is `aut` (or none)."""
    authors, contributors = [], []
    for element in metadata.iter():
        kind = _local(element).lower()
        name = _single_line(element.text)
        if kind not in ("creator", "contributor") or not name:
            continue
        roles = [r.lower() for r in refinements.get(element.get("id"), {}).get("role", []) if r]
        legacy = element.get(f"{{{_OPF_NS}}}role") or element.get("role")
        if legacy:
            roles.insert(0, legacy.strip().lower())
        roles = [r for r in roles if re.fullmatch(r"[a-z]{3}", r)]
        if "aut" in roles or (kind == "creator" and not roles):
            authors.append(name)
        else:
            contributors.append(Person(name, roles[0] if roles else "ctb"))
    return authors, contributors


# --- documents -------------------------------------------------------------------------

_PICTURES = {"img", "image"}


class _PlanLinks:
    """The planning pass resolves pictures only (against the manifest); links wait for numbers."""

    def __init__(self, document, images):
        self._links = EpubLinks(0, document, {}, images)

    def link(self, href):
        return None

    def picture(self, src):
        resolved = self._links.resolve(src)
        if resolved is None or resolved[0] not in self._links.pictures:
            return None
        return resolved[0]  # the picture's path in the archive, for _holds_something


def _content_of(root, language):
    """The body of a normalised document; its language and direction kept on a wrapper div.

    An SVG page of the spine is a body holding the drawing.
    """
    if root is not None and root.tag == "svg":
        body = lxml.etree.Element("body")
        body.append(root)
        return body
    body = root.find("body") if root is not None else None
    if body is None:
        return None
    wrapper = {name: body.get(name) for name in ("id", "lang", "dir") if body.get(name)}
    if root.get("dir") and "dir" not in wrapper:
        wrapper["dir"] = root.get("dir")
    document_language = root.get("lang")
    if document_language and "lang" not in wrapper and document_language.lower() != language.lower():
        wrapper["lang"] = document_language
    if wrapper:
        div = lxml.etree.Element("div", wrapper)
        div.text, body.text = body.text, None
        div.extend(list(body))
        body.append(div)
    return body


def _holds_something(body, cover_path):
    """Words, a picture other than the cover, or a drawing: a cover page holds nothing.

    ``body`` went through prepare() with _PlanLinks: pictures hold their paths in the archive.
    """
    if any(_WORD.search(text) for text in body.itertext()):
        return True
    for element in body.iter():
        if element.tag in _PICTURES:
            if element.get("src" if element.tag == "img" else "href") != cover_path:
                return True
        elif element.tag in ("svg", "math") and any(
            child.tag not in ("image", "title", "desc", "g", "defs") for child in element.iterdescendants()
        ):
            return True
    return False


def _first_heading(body):
    for element in body.iter("h1", "h2", "h3"):
        text = _single_line("".join(element.itertext()))
        if text:
            return text
    return ""


def _targets(documents):
    """Every spine document's Target: one holding nothing points at the next chapter (or the last)."""
    last = max(document.number for document in documents if document.number)
    targets, following = {}, None
    for document in reversed(documents):
        if document.number is not None:
            following = document.number
            targets[document.path] = Target(document.number, document.ids, True)
        else:
            targets[document.path] = Target(following or last, frozenset(), False)
    return targets


# --- table of contents -----------------------------------------------------------------


@dataclass
class _Entry:
    title: str
    href: str | None
    children: list


def _nav_entries(root):
    if root is None:
        return []
    navs = list(root.iter("nav"))
    toc = next((n for n in navs if "toc" in (n.get("data-epub-type") or "").split()), navs[0] if navs else None)
    if toc is None:
        return []
    lists = [child for child in toc.iter("ol", "ul")]
    return _nav_list(lists[0]) if lists else []


def _nav_list(ordered):
    entries = []
    for item in ordered:
        if item.tag != "li":
            continue
        label = next((child for child in item if child.tag in ("a", "span")), None)
        sublist = next((child for child in item if child.tag in ("ol", "ul")), None)
        title = _single_line("".join(label.itertext())) if label is not None else ""
        href = label.get("href") if label is not None and label.tag == "a" else None
        entries.append(_Entry(title, href, _nav_list(sublist) if sublist is not None else []))
    return entries


def _ncx_entries(root):
    if root is None:
        return []
    nav_map = next(iter(_descendants(root, "navMap")), None)
    return _ncx_points(nav_map) if nav_map is not None else []


def _ncx_points(parent):
    entries = []
    for point in _children(parent, "navPoint"):
        label = next(iter(_descendants(point, "text")), None)
        content = next(iter(_children(point, "content")), None)
        title = _single_line("".join(label.itertext())) if label is not None else ""
        entries.append(_Entry(title, content.get("src") if content is not None else None, _ncx_points(point)))
    return entries


def _first_titles(entries, navigation_path):
    """The first title the navigation gives each document (a chapter's title)."""
    titles = {}
    for entry in _walk(entries):
        if entry.href and entry.title:
            path = _nav_target(navigation_path, entry.href)
            if path:
                titles.setdefault(path[0], entry.title)
    return titles


def _walk(entries):
    for entry in entries:
        yield entry
        yield from _walk(entry.children)


def _nav_target(navigation_path, href):
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(navigation_path), unquote(parts.path)))
    return path, unquote(parts.fragment)


def _resolve_toc(entries, navigation_path, targets, depth=0):
    resolved = []
    for entry in entries:
        children = _resolve_toc(entry.children, navigation_path, targets, depth + 1)
        place = _toc_place(entry, navigation_path, targets) or _first_place(children)
        if place is None:
            resolved.extend(children)  # nothing to point at: its entries move up
            continue
        if depth >= _MAX_TOC_DEPTH:
            resolved.append({"title": entry.title, "chapter": place[0], "fragment": place[1], "children": []})
            resolved.extend(children)
            continue
        resolved.append({"title": entry.title, "chapter": place[0], "fragment": place[1], "children": children})
    return resolved


def _toc_place(entry, navigation_path, targets):
    target_path = _nav_target(navigation_path, entry.href) if entry.href else None
    target = targets.get(target_path[0]) if target_path else None
    if target is None or target.chapter is None:
        return None
    fragment = target_path[1] if target_path[1] in target.ids else ""
    return target.chapter, fragment


def _first_place(children):
    return (children[0]["chapter"], children[0]["fragment"]) if children else None


def _is_picture_type(media_type):
    return _MEDIA_TYPE_ALIASES.get(media_type, media_type) in RASTER_TYPES | {SVG_TYPE}
