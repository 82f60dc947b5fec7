"""What the load test's users decide, without Locust (bench/locustfile.py uses it; tests too)."""

import bisect
import itertools
import os
import random
import re

ZIPF_S = float(os.environ.get("LOADTEST_ZIPF_S", "1.0"))
ADDED_MARK = "Noted while reading:"  # descriptions the readers add; bench/seed.py removes them before a run
TITLE_MARK = "·"  # editors append " · ed. N" to titles; bench/seed.py cuts it off before a run
EDIT_PARAGRAPH = re.compile(r'<p class="lt-edit">[^<]*</p>')


class Library:
    """The books one account may read (public and own), picked by Zipf's law on popularity rank."""

    def __init__(self, account, books, s=ZIPF_S):
        own = set(account["own"])
        self.ids = sorted((int(pk) for pk, book in books.items() if book["public"] or int(pk) in own),
                          key=lambda pk: books[str(pk)]["rank"])  # fmt: skip
        self.cumulative = list(itertools.accumulate(1 / books[str(pk)]["rank"] ** s for pk in self.ids))

    def pick(self, rng=random):
        return self.ids[bisect.bisect_left(self.cumulative, rng.random() * self.cumulative[-1])]


def edited(content, edit):
    """The chapter with its one editor's paragraph rewritten (so it keeps its size)."""
    paragraph = f'<p class="lt-edit">Revised, edit {edit}.</p>'
    if EDIT_PARAGRAPH.search(content):
        return EDIT_PARAGRAPH.sub(paragraph, content, count=1)
    return f"{content}\n{paragraph}"
