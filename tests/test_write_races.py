"""A write racing the delete of its book answers 404: never a 500, never the deleted row saved back.

Found by schemathesis (two workers): PATCH of a chapter while its book was being deleted answered 500
(a foreign-key violation at commit), and a book PATCHed during its delete came back to life. Each test
holds a delete of the book open in one thread, lets the write start in another and wait for the
delete's lock (seen in pg_stat_activity), then commits the delete.
"""

import threading
import time

import pytest
from django.db import connection, transaction

from books import services
from books.models import Book, Chapter, Description
from reader.models import ReadingProgress
from tests.conftest import client_for
from tests.factories import make_book

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]

WRITES = [
    ("patch", "/api/v1/books/{book}/", {"title": "Renamed"}),
    ("put", "/api/v1/books/{book}/", {"title": "Renamed", "visibility": "public"}),
    ("patch", "/api/v1/books/{book}/chapters/1/", {"content": "<p>New words.</p>"}),
    ("put", "/api/v1/books/{book}/progress/", {"chapter": 1, "position": 0.5}),
    ("post", "/api/v1/books/{book}/descriptions/", {"chapter": 1, "kind": "location", "text": "A lake."}),
]


def waiting_for_a_lock():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def in_thread(target):
    def run():
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_write_racing_the_delete_of_its_book_answers_404(user, method, path, body):
    book = make_book(user, chapters=2)
    deleted, commit = threading.Event(), threading.Event()
    answers = []

    def delete():
        with transaction.atomic():
            services.delete_book(Book.objects.get(pk=book.pk))
            deleted.set()
            commit.wait(10)

    def write():
        answers.append(getattr(client_for(user), method)(path.format(book=book.pk), body, format="json"))

    deleter = in_thread(delete)
    assert deleted.wait(10)
    writer = in_thread(write)
    deadline = time.monotonic() + 10
    while not waiting_for_a_lock() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert waiting_for_a_lock(), "the write did not reach the book's lock"
    commit.set()
    deleter.join(10)
    writer.join(10)

    assert [answer.status_code for answer in answers] == [404]
    assert not Book.objects.filter(pk=book.pk).exists()
    assert not Chapter.objects.filter(book_id=book.pk).exists()
    assert not Description.objects.filter(book_id=book.pk).exists()
    assert not ReadingProgress.objects.filter(book_id=book.pk).exists()


def test_writes_to_one_book_do_not_wait_for_each_other(user, other):
    """The hold is shared: one reader's progress write does not wait for another's on the same book."""
    book = make_book(user, chapters=2, visibility="public")
    held, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            services.hold_book(book.pk)
            held.set()
            release.wait(10)

    holder = in_thread(hold)
    assert held.wait(10)
    try:
        started = time.monotonic()
        response = client_for(other).put(
            f"/api/v1/books/{book.pk}/progress/", {"chapter": 2, "position": 0.5}, format="json"
        )
        assert response.status_code == 200
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join(10)
