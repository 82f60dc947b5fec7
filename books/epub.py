"""EPUB import: turn an uploaded file into metadata, chapters and a cover.

(Interface fixed; the implementation is being written.)
"""

from dataclasses import dataclass, field


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


def parse_epub(fileobj):
    raise EpubError("EPUB import is not implemented yet.")
