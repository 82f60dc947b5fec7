"""Builders of EPUB files for tests: each returns the bytes of a file.

make_epub() builds a valid book with ebooklib; the other builders return broken or
hostile files that books.epub.parse_epub must refuse.
"""

import io
import struct
import zipfile
import zlib

from ebooklib import epub

# A valid 1x1 transparent-white PNG.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c63f80f040009fb03fdfb5e6b2b0000000049454e44ae426082"
)

DEFAULT_CHAPTERS = (
    ("Chapter One", "<p>It was a bright cold day in April.</p>"),
    ("Chapter Two", "<p>The clocks were striking thirteen.</p><p>Nobody noticed.</p>"),
    ("Chapter Three", "<h2>Aftermath</h2><p>Winston slipped quickly through the glass doors.</p>"),
)
# Words in each default chapter, as books.text.count_words counts them.
DEFAULT_WORD_COUNTS = (8, 7, 8)

# Where ebooklib stores the documents inside the archive.
CHAPTER_PATH = "EPUB/chapter_{number}.xhtml"

BILLION_LAUGHS = b"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Laughs</title></head>
<body><p>&lol9;</p></body></html>
"""

_CONTAINER_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"""


def make_epub(
    title="Test Book",
    author="Ann Author",
    language="en",
    chapters=DEFAULT_CHAPTERS,
    cover=False,
    description="A book made for tests.",
    *,
    in_toc=True,
    spine_order=None,
    legacy_cover=False,
):
    """Build a valid EPUB 3 (with an NCX too) and return its bytes.

    chapters: (title, body HTML) pairs, stored as EPUB/chapter_1.xhtml, ... A chapter
        whose title is None is left out of the navigation and gets no <title>.
    author: a name, or a sequence of names (one dc:creator each).
    cover: add PNG_1X1 as EPUB/cover.png, marked the EPUB3 way (properties="cover-image")
        and the EPUB2 way (<meta name="cover">), with a cover page first in the spine.
    in_toc=False: keep every chapter out of the navigation (their <title> stays).
    spine_order: indexes into chapters, to make the reading order differ from the manifest.
    legacy_cover: add the cover marked only by the EPUB2 <meta name="cover">.
    """
    book = epub.EpubBook()
    book.set_identifier("test-book-id")
    book.set_title(title)
    book.set_language(language)
    for number, name in enumerate([author] if isinstance(author, str) else author, start=1):
        book.add_author(name, uid=f"creator{number}")
    if description:
        book.add_metadata("DC", "description", description)

    documents = []
    for number, (chapter_title, body) in enumerate(chapters, start=1):
        document = epub.EpubHtml(
            uid=f"chapter_{number}",
            title=chapter_title or "",
            file_name=f"chapter_{number}.xhtml",
            lang=language,
        )
        document.content = f"<html><body>{body}</body></html>"
        book.add_item(document)
        documents.append((chapter_title, document))

    book.toc = [
        epub.Link(document.file_name, chapter_title, document.id)
        for chapter_title, document in documents
        if chapter_title and in_toc
    ]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())

    spine = ["nav"] + [documents[index][1] for index in (spine_order or range(len(documents)))]
    if cover:
        # ebooklib's own cover page (create_page=True) breaks its nav writer.
        book.set_cover("cover.png", PNG_1X1, create_page=False)
        page = epub.EpubHtml(uid="cover", title="Cover", file_name="cover.xhtml")
        page.content = '<html><body><img src="cover.png" alt="Cover"/></body></html>'
        book.add_item(page)
        spine.insert(0, page)
    if legacy_cover:
        book.add_item(epub.EpubImage(uid="cover-img", file_name="cover.png", media_type="image/png", content=PNG_1X1))
        book.add_metadata(None, "meta", "", {"name": "cover", "content": "cover-img"})
    book.spine = spine

    buffer = io.BytesIO()
    epub.write_epub(buffer, book, {"raise_exceptions": True})
    return buffer.getvalue()


def not_a_zip():
    return b"This is a plain text file, not an EPUB.\n" * 20


def truncated_epub():
    """A valid EPUB cut in half: the zip directory at the end is gone."""
    data = make_epub()
    return data[: len(data) // 2]


def corrupt_epub():
    """A valid EPUB whose first chapter's compressed bytes are overwritten; the directory is intact."""
    data = bytearray(make_epub(chapters=[("Long", "<p>" + "word " * 2000 + "</p>")]))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(CHAPTER_PATH.format(number=1))
    name_length = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_length = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_length + extra_length
    middle = start + info.compress_size // 2
    data[middle : middle + 16] = bytes(16)
    return bytes(data)


def zip_without_container():
    return _zip({"mimetype": b"application/epub+zip", "OEBPS/chapter.xhtml": b"<html><body>Hi</body></html>"})


def zip_without_opf():
    """Has META-INF/container.xml, but the OPF file it points to is missing."""
    return _zip(
        {
            "mimetype": b"application/epub+zip",
            "META-INF/container.xml": _CONTAINER_XML,
            "OEBPS/chapter.xhtml": b"<html><body><p>Hello there.</p></body></html>",
        }
    )


def zip_bomb(megabytes=16):
    """A valid EPUB plus an entry of `megabytes` MB of zeros (a few KB compressed).

    Tests lower settings.EPUB_MAX_UNCOMPRESSED_MB below `megabytes`.
    """
    return _rewrite(make_epub(), add={"EPUB/padding.bin": bytes(megabytes * 1024 * 1024)})


def lying_zip_bomb(megabytes=16, claimed_bytes=1000):
    """Like zip_bomb(), but the zip headers claim the padding is only `claimed_bytes` long."""
    data = bytearray(zip_bomb(megabytes))
    name = b"EPUB/padding.bin"
    size = claimed_bytes.to_bytes(4, "little")
    local = _local_header_offset(bytes(data), name.decode())
    data[local + 22 : local + 26] = size
    central = _central_header_offset(data, name)
    data[central + 24 : central + 28] = size
    return bytes(data)


def entity_expansion_epub():
    """A valid EPUB whose first chapter declares "billion laughs" entities in its DOCTYPE."""
    return _rewrite(make_epub(), replace={CHAPTER_PATH.format(number=1): BILLION_LAUGHS})


def path_traversal_epub():
    """A valid EPUB with an extra entry named ../../evil.txt."""
    return _rewrite(make_epub(), add={"../../evil.txt": b"gotcha"})


def encrypted_epub():
    """A valid EPUB whose first chapter is flagged as a password-encrypted zip entry."""
    data = bytearray(make_epub())
    central = _central_header_offset(data, CHAPTER_PATH.format(number=1).encode())
    data[central + 8] |= 0x1
    return bytes(data)


def _zip(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED if name == "mimetype" else None)
    return buffer.getvalue()


def _rewrite(data, replace=None, add=None):
    """Copy an archive, replacing some entries' bytes and adding entries at the end."""
    replace = replace or {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: replace.get(name, archive.read(name)) for name in archive.namelist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in {**files, **(add or {})}.items():
            archive.writestr(name, content, compress_type=zipfile.ZIP_STORED if name == "mimetype" else None)
    return buffer.getvalue()


def _local_header_offset(data, name):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.getinfo(name).header_offset


def _central_header_offset(data, name):
    """Offset of the central directory record for `name` (name bytes start 46 bytes in)."""
    offset = data.find(b"PK\x01\x02")
    while data[offset + 46 : offset + 46 + len(name)] != name:
        offset = data.find(b"PK\x01\x02", offset + 1)
        if offset < 0:
            raise LookupError(name)
    return offset


XHTML = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="en" xml:lang="en">
<head><title>{title}</title></head>
<body>{body}</body>
</html>"""


def xhtml(body, title="Document"):
    return XHTML.format(title=title, body=body).encode()


def make_raw_epub(
    documents,
    *,
    metadata='<dc:title>Raw Book</dc:title><dc:language>en</dc:language><dc:creator id="c1">Ann Author</dc:creator>',
    files=None,
    nav=None,
    ncx=None,
    version="3.0",
    spine=None,
):
    """An EPUB written by hand, every byte of it chosen by the test.

    documents: {path under OEBPS/: bytes of the document (see xhtml()), or (bytes, media type)},
        in spine order unless `spine` lists the paths.
    files: {path under OEBPS/: (bytes, media type, properties)} other manifest items.
    nav: body of an EPUB 3 navigation document (OEBPS/nav.xhtml, not in the spine).
    ncx: the navMap content of an EPUB 2 NCX (OEBPS/toc.ncx).
    metadata: the OPF's <metadata> content (dc: and opf: prefixes are declared).
    """
    files = dict(files or {})
    manifest, entries = [], {}
    for number, (path, data) in enumerate(documents.items(), start=1):
        data, media_type = data if isinstance(data, tuple) else (data, "application/xhtml+xml")
        manifest.append(f'<item id="d{number}" href="{path}" media-type="{media_type}"/>')
        entries[f"OEBPS/{path}"] = data
    ids = {path: f"d{number}" for number, path in enumerate(documents, start=1)}
    for number, (path, (data, media_type, properties)) in enumerate(files.items(), start=1):
        extra = f' properties="{properties}"' if properties else ""
        manifest.append(f'<item id="f{number}" href="{path}" media-type="{media_type}"{extra}/>')
        entries[f"OEBPS/{path}"] = data
    if nav is not None:
        manifest.append('<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>')
        entries["OEBPS/nav.xhtml"] = xhtml(nav, "Contents")
    toc = ""
    if ncx is not None:
        manifest.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
        entries["OEBPS/toc.ncx"] = (
            '<?xml version="1.0" encoding="utf-8"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" '
            f'version="2005-1"><head/><docTitle><text>T</text></docTitle><navMap>{ncx}</navMap></ncx>'
        ).encode()
        toc = ' toc="ncx"'
    itemrefs = "".join(f'<itemref idref="{ids[path]}"/>' for path in (spine or documents))
    entries["OEBPS/content.opf"] = (
        f'<?xml version="1.0" encoding="utf-8"?><package xmlns="http://www.idpf.org/2007/opf" version="{version}" '
        'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:opf="http://www.idpf.org/2007/opf"><dc:identifier id="id">raw</dc:identifier>{metadata}</metadata>'
        f"<manifest>{''.join(manifest)}</manifest><spine{toc}>{itemrefs}</spine></package>"
    ).encode()
    return _zip({"mimetype": b"application/epub+zip", "META-INF/container.xml": _CONTAINER_XML, **entries})


def png(width=2, height=2, rgb=(200, 30, 30)):
    """A real PNG image, written with zlib (no imaging library needed)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
