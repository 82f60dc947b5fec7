"""Text helpers shared by EPUB import, JSON books and chapter edits."""

import html
import math
import re

import nh3

WORDS_PER_MINUTE = 200

# nh3's defaults already drop script, style, iframe, object, form, on* attributes and
# javascript: URLs; ebooks also need their structural attributes.
_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRIBUTES["*"] = {"class", "id", "lang", "dir", "title"}

_WORD = re.compile(r"\w+", re.UNICODE)


def sanitize_html(html):
    return nh3.clean(html or "", attributes=_ATTRIBUTES)


def plain_text(markup):
    return html.unescape(nh3.clean(markup or "", tags=set()))


def count_words(html):
    return len(_WORD.findall(plain_text(html)))


def reading_time_minutes(word_count):
    return math.ceil(word_count / WORDS_PER_MINUTE) if word_count else 0
