"""A realistic mix of reads and writes for Locust: `make loadtest` runs it (see bench/loadtest.py).

Readers open their library, pick a book by Zipf's law on its popularity, look at it, its
chapters and their progress, read a few chapters in order, save their progress every few
chapters, sometimes read the book's descriptions, and on their own books sometimes add one.
Editors (one user in twenty) open their own shelf and retitle a book or edit a chapter.
Think times are compressed (LOADTEST_WAIT, default 0.5-2.5 s between steps).

The environment names the plan written by bench/seed.py (LOADTEST_PLAN) and where to write
the X-Cache counts when Locust quits (LOADTEST_COUNTS). Every cached read answers X-Cache:
HIT, MISS or BYPASS; they are counted per endpoint and per 10 s of the run.
"""

import itertools
import json
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

from locust import FastHttpUser, between, events, task
from reading import ADDED_MARK, TITLE_MARK, Library, edited  # bench/reading.py: Locust adds bench/ to the path

API = "/api/v1"
WAIT = tuple(float(part) for part in os.environ.get("LOADTEST_WAIT", "0.5,2.5").split(","))
BUCKET_SECONDS = 10
CHAPTERS_PER_SESSION = (2, 8)
SAVE_EVERY = 3  # chapters between progress saves
KINDS = ("location", "character", "atmosphere", "object", "action")


def _load_plan():
    path = os.environ.get("LOADTEST_PLAN")
    return json.loads(Path(path).read_text()) if path else {"readers": [], "books": {}}


PLAN = _load_plan()
_readers = itertools.count()
_editors = itertools.count()


# --- X-Cache counts ---------------------------------------------------------------------

COUNTS = {"by_endpoint": defaultdict(Counter), "by_bucket": defaultdict(Counter), "started": None}


@events.test_start.add_listener
def _started(**kwargs):
    COUNTS["started"] = time.time()


@events.request.add_listener
def _count(request_type, name, response=None, exception=None, start_time=None, **kwargs):
    if request_type != "GET" or response is None or exception is not None:
        return
    outcome = response.headers.get("X-Cache") if response.headers else None
    if not outcome:
        return
    COUNTS["by_endpoint"][name][outcome] += 1
    started = COUNTS["started"] or start_time or time.time()
    COUNTS["by_bucket"][int(((start_time or time.time()) - started) // BUCKET_SECONDS)][outcome] += 1


@events.quitting.add_listener
def _write_counts(**kwargs):
    path = os.environ.get("LOADTEST_COUNTS")
    if path:
        Path(path).write_text(
            json.dumps(
                {
                    "bucket_seconds": BUCKET_SECONDS,
                    "by_endpoint": COUNTS["by_endpoint"],
                    "by_bucket": {str(bucket): counts for bucket, counts in sorted(COUNTS["by_bucket"].items())},
                }
            )
        )


# --- the users ----------------------------------------------------------------------------


class Account(FastHttpUser):
    abstract = True

    def sign_in(self, account):
        self.account = account
        self.headers = {"Authorization": f"Bearer {account['token']}", "Accept": "application/json"}

    def get(self, path, name):
        return self.client.get(API + path, headers=self.headers, name=name)

    def send(self, method, path, name, body):
        return self.client.request(method, API + path, headers=self.headers, json=body, name=name)


class Reader(Account):
    weight = 19
    wait_time = between(*WAIT)

    def on_start(self):
        self.sign_in(PLAN["readers"][next(_readers) % len(PLAN["readers"])])
        self.library = Library(self.account, PLAN["books"])

    @task
    def reading_session(self):
        self.get("/books/", "books/")
        if random.random() < 0.15:
            self.get("/books/?offset=20", "books/?offset=20")
        self.wait()
        book_id = self.library.pick()
        book = PLAN["books"][str(book_id)]
        base = f"/books/{book_id}"
        self.get(f"{base}/", "books/{id}/")
        self.get(f"{base}/chapters/", "books/{id}/chapters/")
        progress = self.get(f"{base}/progress/", "books/{id}/progress/")
        chapter = _json(progress).get("chapter") or 1
        if chapter >= book["chapters"]:
            chapter = 1  # finished: start again
        if random.random() < 0.3:
            self.get(f"{base}/descriptions/", "books/{id}/descriptions/")
        session = random.randint(*CHAPTERS_PER_SESSION)
        for done in range(1, session + 1):
            self.wait()
            self.get(f"{base}/chapters/{chapter}/", "books/{id}/chapters/{n}/")
            last = done == session or chapter == book["chapters"]
            if done % SAVE_EVERY == 0 or last:
                position = 1.0 if chapter == book["chapters"] else round(random.random(), 3)
                body = {"chapter": chapter, "position": position}
                self.send("PUT", f"{base}/progress/", "books/{id}/progress/", body)
            if last:
                break
            chapter += 1
        if book_id in self.account["own"] and random.random() < 0.1:
            text = f"{ADDED_MARK} a note on chapter {chapter}, written during the load test."
            body = {"chapter": chapter, "kind": random.choice(KINDS), "text": text}
            self.send("POST", f"{base}/descriptions/", "books/{id}/descriptions/", body)


class Editor(Account):
    """An owner at work on their books: slower than a reader, and every step may write."""

    weight = 1
    wait_time = between(2 * WAIT[0], 2 * WAIT[1])

    def on_start(self):
        owners = sorted((r for r in PLAN["readers"] if r["own"]), key=lambda r: -len(r["own"]))
        self.sign_in(owners[next(_editors) % len(owners)])
        self.edits = itertools.count(1)

    @task
    def editing_session(self):
        self.get("/books/?shelf=mine", "books/?shelf=mine")
        book_id = random.choice(self.account["own"])
        book = PLAN["books"][str(book_id)]
        base = f"/books/{book_id}"
        self.get(f"{base}/", "books/{id}/")
        if random.random() < 0.5:
            self.send(
                "PATCH", f"{base}/", "books/{id}/", {"title": f"{book['title']} {TITLE_MARK} ed. {next(self.edits)}"}
            )
        self.wait()
        self.get(f"{base}/chapters/", "books/{id}/chapters/")
        number = random.randint(1, book["chapters"])
        chapter = _json(self.get(f"{base}/chapters/{number}/", "books/{id}/chapters/{n}/"))
        self.wait()
        if random.random() < 0.5 or "content" not in chapter:
            body = {"title": f"Chapter {number} {TITLE_MARK} ed. {next(self.edits)}"}
        else:
            body = {"content": edited(chapter["content"], next(self.edits))}
        self.send("PATCH", f"{base}/chapters/{number}/", "books/{id}/chapters/{n}/", body)


def _json(response):
    try:
        return response.json() or {}
    except (ValueError, TypeError):
        return {}
