"""A 404 for another user's private book costs what a 404 for a missing id costs (issue 9, point 8).

Timing itself is measured by bench/timing_404.py; here, the work is compared: the same SQL
(none, once asked before) and the same answer for both, on every cached read.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)

READS = ["", "chapters/", "chapters/1/", "progress/", "descriptions/"]


def work(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response.status_code, response.content, len(queries)


@pytest.mark.parametrize("read", READS)
def test_unreadable_and_missing_books_answer_alike_once_asked(api, other, other_api, read):
    private = make_book(other)
    missing = private.pk + 1000
    for book_id in (private.pk, missing):  # the first ask of each
        assert api.get(f"/api/v1/books/{book_id}/{read}").status_code == 404
    unreadable = work(api, f"/api/v1/books/{private.pk}/{read}")
    absent = work(api, f"/api/v1/books/{missing}/{read}")
    assert unreadable == absent == (404, b'{"detail":"Not found."}', 0)
    assert other_api.get(f"/api/v1/books/{private.pk}/{read}").status_code == 200  # the owner still reads
