"""The cache_stats, cache_clear and cache_warm management commands, on the real Redis."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cacheadmin.cache import response_cache
from tests import cacheadmin_support as support
from tests.factories import make_book

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args, **options):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def answer_with(monkeypatch, reply):
    asked = []

    def fake_input(prompt=""):
        asked.append(prompt)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    monkeypatch.setattr("builtins.input", fake_input)
    return asked


@pytest.fixture
def two_books_read(api, user):
    books = support.book_with_content(user), support.book_with_content(user)
    for book in books:
        for url in support.book_read_urls(book):
            api.get(url)
    return books


# --- cache_stats ----------------------------------------------------------------------


def test_cache_stats_prints_a_table(api, user):
    book = make_book(user)
    api.get(f"/api/v1/books/{book.pk}/")
    api.get(f"/api/v1/books/{book.pk}/")
    out, _ = run("cache_stats")
    assert "Response cache: available" in out
    assert "Keys: 1" in out
    assert "Hits: 1    Misses: 1    Hit rate: 50.0 %" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("book ", "user "))}
    assert rows["book"][:3] == ["1", "1", "1"]
    assert rows["user"][:3] == ["0", "0", "0"]


def test_cache_stats_json(api, user, settings):
    book = make_book(user)
    api.get(f"/api/v1/books/{book.pk}/")
    out, _ = run("cache_stats", "--json")
    stats = json.loads(out)
    assert stats["available"] is True
    assert (stats["hits"], stats["misses"], stats["keys_count"]) == (0, 1, 1)
    assert stats["namespaces"]["book"] == {"keys": 1, "hits": 0, "misses": 1}
    assert stats["ttl_seconds"]["static"] == settings.REDIS_CACHE_DEFAULT_TTL


def test_cache_stats_fails_while_redis_is_down(redis_down):
    out = StringIO()
    with pytest.raises(CommandError, match="unreachable"):
        call_command("cache_stats", "--json", stdout=out, stderr=StringIO())
    assert json.loads(out.getvalue())["available"] is False
    with pytest.raises(CommandError, match="unreachable"):
        run("cache_stats")


# --- cache_clear ----------------------------------------------------------------------


def test_cache_clear_yes_deletes_only_responses(two_books_read, foreign, monkeypatch):
    asked = answer_with(monkeypatch, "n")
    response_cache.flush_stats()
    count, others = len(support.response_keys()), support.other_keys()

    out, _ = run("cache_clear", "--yes")

    assert asked == []
    assert f"Deleted {count} key(s)" in out
    assert support.response_keys() == set()
    assert support.other_keys() >= others
    assert support.all_exist(foreign)


def test_cache_clear_asks_and_a_no_keeps_everything(two_books_read, monkeypatch):
    before = support.response_keys()
    asked = answer_with(monkeypatch, "n")
    out, _ = run("cache_clear")
    assert len(asked) == 1 and f"Delete {len(before)} key(s)" in asked[0]
    assert "Cancelled" in out
    assert support.response_keys() == before


@pytest.mark.parametrize("reply", ["y", "yes", " Y "])
def test_cache_clear_asks_and_a_yes_deletes(two_books_read, monkeypatch, reply):
    asked = answer_with(monkeypatch, reply)
    run("cache_clear")
    assert len(asked) == 1
    assert support.response_keys() == set()


def test_cache_clear_without_a_terminal_needs_yes(two_books_read, monkeypatch):
    before = support.response_keys()
    answer_with(monkeypatch, EOFError())
    with pytest.raises(CommandError, match="--yes"):
        run("cache_clear")
    assert support.response_keys() == before


def test_cache_clear_with_nothing_to_delete_does_not_ask(monkeypatch):
    asked = answer_with(monkeypatch, "y")
    out, _ = run("cache_clear")
    assert asked == []
    assert "nothing to delete" in out


def test_cache_clear_pattern(two_books_read, monkeypatch):
    mine, other = two_books_read
    asked = answer_with(monkeypatch, "y")
    out, _ = run("cache_clear", "--pattern", f"book:{mine.pk}:*")
    count = len(support.book_response_keys(mine))
    assert f"Delete {count} key(s)" in asked[0] and f"book:{mine.pk}:*" in asked[0]
    assert f"Deleted {count} key(s)" in out
    assert support.response_keys() == support.book_response_keys(other)


def test_cache_clear_star_pattern_keeps_other_keys(two_books_read, foreign):
    others = support.other_keys()
    run("cache_clear", "--pattern", "*", "--yes")
    assert support.response_keys() == set()
    assert support.other_keys() >= others
    assert support.all_exist(foreign)


@pytest.mark.parametrize("pattern", ["book:1:?", "x" * 201, "../x", ""])
def test_cache_clear_invalid_pattern(two_books_read, pattern):
    before = support.response_keys()
    with pytest.raises(CommandError, match="Invalid pattern"):
        run("cache_clear", "--pattern", pattern, "--yes")
    assert support.response_keys() == before


@pytest.mark.parametrize("args", [["--yes"], ["--pattern", "book:*", "--yes"], []])
def test_cache_clear_fails_while_redis_is_down(redis_down, monkeypatch, args):
    answer_with(monkeypatch, "y")
    with pytest.raises(CommandError, match="unreachable"):
        run("cache_clear", *args)


# --- cache_warm -----------------------------------------------------------------------


def test_cache_warm_books(api, user):
    first, second, untouched = (support.book_with_content(user) for _ in range(3))
    out, err = run("cache_warm", "--book", str(first.pk), "--book", str(second.pk))

    expected = support.book_response_keys(first) | support.book_response_keys(second)
    assert f"Warmed 2 book(s): {len(expected)} answer(s) computed and cached, 0 already cached." in out
    assert "2/2" in err  # the progress bar
    assert support.response_keys() == expected
    for url in support.book_read_urls(first) + support.book_read_urls(second):
        assert api.get(url)["X-Cache"] == "HIT", url
    assert api.get(f"/api/v1/books/{untouched.pk}/")["X-Cache"] == "MISS"


def test_cache_warm_all(user, other):
    books = [make_book(user, chapters=1), make_book(other, chapters=2)]
    out, _ = run("cache_warm", "--all", "--no-progress")
    assert "Warmed 2 book(s): 11 answer(s) computed and cached, 0 already cached." in out
    assert support.response_keys() == support.book_response_keys(books[0]) | support.book_response_keys(books[1])


def test_cache_warm_reports_missing_books(user):
    book = make_book(user, chapters=1)
    out, err = run("cache_warm", "--book", str(book.pk), "--book", "987654")
    assert "Warmed 1 book(s)" in out
    assert "No such book(s): 987654" in err


def test_cache_warm_only_missing_books_fails(db):
    with pytest.raises(CommandError, match="nothing warmed"):
        run("cache_warm", "--book", "987654")


@pytest.mark.parametrize("args", [[], ["--all", "--book", "1"]])
def test_cache_warm_needs_books_or_all(db, args):
    with pytest.raises(CommandError):
        run("cache_warm", *args)


def test_cache_warm_fails_while_redis_is_down(user, redis_down):
    book = make_book(user)
    for args in (["--book", str(book.pk)], ["--all"]):
        with pytest.raises(CommandError, match="unreachable"):
            run("cache_warm", *args)
