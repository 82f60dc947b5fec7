"""Where the links and pictures of a chapter may point, and the URLs they are rewritten to.

books.text.prepare asks a policy two questions for each element: ``link(href)`` (an
``<a>``: returns a Link, or None to unlink it) and ``picture(src)`` (an ``<img>`` or SVG
``<image>``: returns the stored URL of one of the book's pictures, or None to remove it).

- ``EpubLinks`` answers for one document of an EPUB being imported: paths resolve
  against the document, other documents of the spine become chapter URLs.
- ``ContentLinks`` answers for HTML sent in JSON or an edit: this book's own chapter and
  picture URLs (as the API serves them) are kept, nothing else of the API's.

Both keep in-chapter fragments and ``http(s):``/``mailto:`` links; pictures outside the
book are never kept (books.text keeps their ``alt`` text).
"""

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

API_ROOT = "/api/v1/"
_EXTERNAL = re.compile(r"(?:https?://[^\s\"<>]+|mailto:[^\s\"<>]+)", re.IGNORECASE)
# The characters a fragment keeps as is in an href (the rest is percent-encoded).
_FRAGMENT_SAFE = "!$&'()*+,;=:@/?-._~"


@dataclass(frozen=True)
class Link:
    href: str
    chapter: int | None = None  # set for a link to another chapter (data-chapter)


def chapter_url(book_id, number, fragment=""):
    url = f"{API_ROOT}books/{book_id}/chapters/{number}/"
    return f"{url}#{quote(fragment, safe=_FRAGMENT_SAFE)}" if fragment else url


def resource_url(book_id, path):
    """The stored (unsigned) URL of a picture: books.resources signs it when a chapter is read."""
    return f"{API_ROOT}books/{book_id}/resources/{quote(path, safe='/')}"


def fragment_link(fragment):
    return Link(f"#{quote(fragment, safe=_FRAGMENT_SAFE)}") if fragment else None


def external_link(href):
    return Link(href) if _EXTERNAL.fullmatch(href) else None


class ContentLinks:
    """Links of HTML sent to the API, for a book with these chapter numbers and pictures."""

    def __init__(self, book_id=None, chapters=(), pictures=()):
        self.book_id = book_id
        self.chapters = set(chapters)
        self.pictures = set(pictures)
        prefix = re.escape(f"{API_ROOT}books/{book_id}/")
        self._chapter = re.compile(prefix + r"chapters/(\d{1,10})/?(?:#(.*))?")
        self._picture = re.compile(prefix + r"resources/([^?#]+)(?:\?[^#]*)?")

    def link(self, href):
        if href.startswith("#"):
            return fragment_link(unquote(href[1:]))
        if self.book_id is not None and (match := self._chapter.fullmatch(href)):
            number = int(match.group(1))
            if number in self.chapters:
                return Link(chapter_url(self.book_id, number, unquote(match.group(2) or "")), number)
            return None
        return external_link(href)

    def picture(self, src):
        if self.book_id is None or not (match := self._picture.fullmatch(src)):
            return None
        path = unquote(match.group(1))
        return resource_url(self.book_id, path) if path in self.pictures else None


@dataclass(frozen=True)
class Target:
    """What a document of the spine became: its chapter, and the ids it holds."""

    chapter: int  # its own number, or the next chapter's when the document holds nothing
    ids: frozenset
    kept: bool


class EpubLinks:
    """Links of one EPUB document.

    ``targets`` maps every spine document's path to its Target; ``pictures`` holds the
    paths of the book's stored pictures.
    """

    def __init__(self, book_id, document, targets, pictures):
        self.book_id = book_id
        self.document = document
        self.targets = targets
        self.pictures = pictures

    def resolve(self, href):
        """(path, fragment) of an href inside the book, or None for one outside it."""
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            return None
        path = self.document
        if parts.path:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(self.document), unquote(parts.path)))
        return path, unquote(parts.fragment)

    def link(self, href):
        if _EXTERNAL.match(href):
            return external_link(href)
        resolved = self.resolve(href)
        target = self.targets.get(resolved[0]) if resolved else None
        if target is None:
            return None
        path, fragment = resolved
        if path == self.document and fragment:
            return fragment_link(fragment) if fragment in target.ids else None  # an anchor of its own, or nothing
        fragment = fragment if fragment in target.ids else ""  # elsewhere: at worst the top of that chapter
        return Link(chapter_url(self.book_id, target.chapter, fragment), target.chapter)

    def picture(self, src):
        resolved = self.resolve(src)
        if resolved is None or resolved[0] not in self.pictures:
            return None
        return resource_url(self.book_id, resolved[0])
