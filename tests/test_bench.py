"""bench/: the load tools it drives, the load test's users, seed and report (no gunicorn here)."""

import http.server
import json
import random
import shutil
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import drivers  # noqa: E402
import loadreport  # noqa: E402
import locuststats  # noqa: E402
import probes  # noqa: E402
import reading  # noqa: E402
import seed  # noqa: E402


class _Handler(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        _Handler.seen.append(self.headers.get("Authorization"))
        status = 200 if self.path == "/ok" else 404
        body = b'{"status": "ok"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a load tool that stops closes its connections mid-request: not the test's concern


@pytest.fixture(scope="module")
def tiny_server():
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


# --- the load tools -----------------------------------------------------------------


def test_pick_tool_falls_back_to_locust_without_wrk(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no wrk on this PATH
    assert drivers.pick_tool("auto") == "locust"
    assert drivers.pick_tool("locust") == "locust"
    with pytest.raises(SystemExit, match="apt-get install -y wrk"):
        drivers.pick_tool("wrk")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install -y wrk)")
def test_pick_tool_prefers_wrk_when_installed():
    assert drivers.pick_tool("auto") == "wrk"


@pytest.mark.parametrize(
    "tool",
    [
        pytest.param("wrk", marks=pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")),
        "locust",
    ],
)
def test_each_tool_loads_a_real_server_and_counts_failures(tool, tiny_server):
    _Handler.seen.clear()
    good = drivers.load(tool, tiny_server, "/ok", "secret", 2, 2, 1)
    assert good["requests"] > 10
    assert good["errors"] == 0
    assert good["rps"] > 5
    assert 0 < good["p50"] <= good["p99"]
    assert good["client_cpu"] > 0
    assert set(_Handler.seen) == {"Bearer secret"}

    bad = drivers.load(tool, tiny_server, "/missing", "secret", 2, 2, 1)
    assert bad["requests"] > 0
    assert bad["errors"] == bad["requests"]  # every 404 counts as failed
    assert bad["rps"] == pytest.approx(0, abs=1)


def test_wrk_report_line_is_parsed():
    line = (
        'BENCH-JSON {"requests": 3000, "duration_us": 2000000, "bytes": 1, "errors": {"connect": 0, "read": 0, '
        '"write": 0, "status": 1000, "timeout": 2}, "p50_us": 1500, "p99_us": 9000, "mean_us": 2000.0}'
    )
    result = drivers.parse_wrk(f"Running 2s test\n{line}\n", cpu=0.5)
    assert result == {"requests": 3000, "rps": 1000.0, "p50": 1.5, "p99": 9.0, "errors": 1002, "client_cpu": 0.5}


def test_locust_final_statistics_per_endpoint_and_together(tmp_path):
    def entry(method, name, times, failures=0):
        return {"name": name, "method": method, "start_time": 100.0, "last_request_timestamp": 110.0,
                "num_requests": sum(times.values()), "num_none_requests": 0, "num_failures": failures,
                "total_response_time": sum(float(t) * n for t, n in times.items()), "max_response_time": 0,
                "min_response_time": 0, "total_content_length": 1000 * sum(times.values()),
                "response_times": times, "num_reqs_per_sec": {}, "num_fail_per_sec": {}}  # fmt: skip

    path = tmp_path / "run.json"
    path.write_text(
        json.dumps([entry("GET", "a", {"1": 50, "2": 45, "10": 4, "100": 1}), entry("PUT", "b", {"300": 10}, 3)])
    )
    stats = locuststats.read(path)
    assert stats["GET a"] == {"requests": 100, "failures": 0, "rps": 10.0, "mean": 2.8, "size": 1000.0,
                              "p50": 2.0, "p95": 10.0, "p99": 100.0}  # fmt: skip
    assert stats["PUT b"]["failures"] == 3
    assert stats["Aggregated"]["requests"] == 110
    assert stats["Aggregated"]["rps"] == 11.0
    assert (stats["Aggregated"]["p50"], stats["Aggregated"]["p99"]) == (2.0, 300.0)


# --- the load test's users --------------------------------------------------------------


def _books():
    # ranks 1..6; book 5 is private to user 1, book 6 private to someone else
    return {
        str(pk): {"rank": pk, "public": pk <= 4, "owner": 1 if pk == 5 else 2, "chapters": 10, "title": "T"}
        for pk in range(1, 7)
    }


def test_readers_pick_books_they_may_read_by_zipfs_law():
    library = reading.Library({"own": [5]}, _books(), s=1.0)
    rng = random.Random(3)
    picks = Counter(library.pick(rng) for _ in range(20000))
    assert set(picks) == {1, 2, 3, 4, 5}  # never another reader's private book
    # Zipf with s = 1: the most popular book about twice the second and four times the fourth.
    assert picks[1] / picks[2] == pytest.approx(2, rel=0.15)
    assert picks[1] / picks[4] == pytest.approx(4, rel=0.15)


def test_an_editor_rewrites_one_paragraph_so_chapters_keep_their_size():
    first = reading.edited("<p>Text.</p>", 1)
    assert first == '<p>Text.</p>\n<p class="lt-edit">Revised, edit 1.</p>'
    second = reading.edited(first, 2)
    assert second == '<p>Text.</p>\n<p class="lt-edit">Revised, edit 2.</p>'


def test_probe_deltas_count_from_zero_for_new_keys():
    before = {"a": 1, "nested": {"x": 2}, "load": (1.0, 2.0, 3.0)}
    after = {"a": 4, "nested": {"x": 5, "y": 7}, "load": (4.0, 5.0, 6.0)}
    assert probes.delta(before, after) == {"a": 3, "nested": {"x": 3, "y": 7}, "load": (4.0, 5.0, 6.0)}


# --- the seed --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_makes_a_library_once_and_resets_what_a_run_wrote():
    from books.models import Book, Description
    from reader.models import ReadingProgress

    plan = seed.prepare(books=4, readers=5, log=lambda text: None)
    books = Book.objects.filter(owner__username__startswith="lt-reader-")
    assert books.count() == 4
    assert len(plan["readers"]) == 5
    assert plan["staff_token"]
    for pk, book in plan["books"].items():
        row = books.get(pk=int(pk))
        assert book == {
            "chapters": row.chapters.count(),
            "public": row.visibility == "public",
            "owner": row.owner_id,
            "rank": book["rank"],
            "title": row.title,
        }
        assert 10 <= book["chapters"] <= 40
        owner = next(reader for reader in plan["readers"] if reader["user_id"] == row.owner_id)
        assert int(pk) in owner["own"]
    assert sorted(book["rank"] for book in plan["books"].values()) == [1, 2, 3, 4]

    # What a run writes: progress, a reader's description, an edited title.
    book = books.first()
    ReadingProgress.objects.create(user=book.owner, book=book, chapter=1, position=0.5, percent=1.0)
    Description.objects.create(book=book, chapter=book.chapters.first(), kind="location", text=seed.ADDED_MARK + " x")
    original = book.title
    Book.objects.filter(pk=book.pk).update(title=f"{original} {seed.TITLE_MARK} ed. 3")
    kept = Description.objects.filter(book__in=books).exclude(text__startswith=seed.ADDED_MARK).count()

    again = seed.prepare(books=4, readers=5, log=lambda text: pytest.fail("seeded twice"))
    assert Book.objects.get(pk=book.pk).title == original
    assert not ReadingProgress.objects.filter(book__in=books).exists()
    assert Description.objects.filter(book__in=books).count() == kept
    assert again["books"] == plan["books"]


# --- the report ----------------------------------------------------------------------------


def _run(users, config, rps, p95_reads, hits, misses, xacts, pg_cpu):
    requests = int(rps * 70)
    reads = {"books/": p95_reads, "books/{id}/chapters/{n}/": p95_reads}
    endpoints = {
        f"GET {name}": {"requests": requests // 3, "failures": 0, "rps": rps / 3, "mean": 5.0, "size": 900.0,
                        "p50": p95 / 3, "p95": p95, "p99": p95 * 2}
        for name, p95 in reads.items()
    }  # fmt: skip
    endpoints["PUT books/{id}/progress/"] = {"requests": requests // 3, "failures": 0, "rps": rps / 3, "mean": 9.0,
                                             "size": 100.0, "p50": 10, "p95": 30, "p99": 60}  # fmt: skip
    endpoints["Aggregated"] = {"requests": requests, "failures": 0, "rps": rps, "mean": 6.0, "size": 600.0,
                               "p50": p95_reads / 3, "p95": p95_reads, "p99": p95_reads * 2}  # fmt: skip
    outcome = {"HIT": hits, "MISS": misses} if config == "on" else {"BYPASS": hits + misses}
    return {
        "name": f"{config}-{users}",
        "config": config,
        "users": users,
        "workers": 5,
        "relay_seconds": 0.25,
        "load_before": [1.0, 1.0, 1.0],
        "load_after": [2.0, 1.0, 1.0],
        "seconds": 70.0,
        "machine_busy": 100.0,
        "cpu": {"gunicorn": 50.0, "postgres": pg_cpu, "redis": 2.0, "locust": 10.0},
        "postgres": {
            "xact_commit": xacts,
            "xact_rollback": 0,
            "tup_returned": 1000,
            "tup_fetched": 100,
            "tup_inserted": 1,
            "tup_updated": 1,
            "tup_deleted": 0,
            "blks_hit": 0,
            "blks_read": 0,
            "seq_scan": 1,
            "idx_scan": 10,
            "seq_tup_read": 0,
            "idx_tup_fetch": 0,
        },  # fmt: skip
        "postgres_complete": True,
        "redis_commands": {"mget": requests, "info": 2, "flushall": 1} if config == "on" else {"info": 2},
        "endpoints": endpoints,
        "xcache": {
            "bucket_seconds": 10,
            "by_endpoint": {"books/": outcome, "books/{id}/chapters/{n}/": outcome},
            "by_bucket": {"0": {"MISS": 10, "HIT": 10}, "3": outcome, "4": outcome, "7": {"HIT": 1}},
        },
        "app_stats": None,
        "locust_warnings": [],
    }


def test_report_states_which_claims_hold(tmp_path):
    runs = [
        _run(50, "on", 30, 20, 900, 100, 2100, 1.0),
        _run(50, "off", 30, 200, 900, 100, 21000, 10.0),
        _run(500, "on", 300, 80, 950, 50, 7000, 10.0),
        _run(500, "off", 300, 3000, 950, 50, 30000, 40.0),
    ]
    meta = {"date": "2026-01-01T00:00:00+00:00", "cores": 2, "seconds": 60, "ramp": 10, "wait": "0.5,2.5",
            "books": 300, "readers": 200}  # fmt: skip
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"meta": meta, "runs": runs}))
    (tmp_path / "on-50.html").write_text("<html>report</html>")
    docs = tmp_path / "docs"

    text = loadreport.write_report(results, docs).read_text()

    assert "**Hit rate over 85 %: holds** — 50 users: 90.0 % after the first 30 s" in text
    # 2,100 requests at 50 users: 2,100 vs 21,000 transactions (90 % fewer), of which the relay's checks
    # (5 workers x 70 s x 4) 1,400; 21,000 requests at 500 users: 7,000 vs 30,000 (77 % fewer).
    assert "**Database load −80 %: does not hold** — 50 users: 90 % fewer transactions (97 % without" in text
    assert "500 users: 77 % fewer transactions (81 % without the relay's checks)" in text
    assert (
        "Per-user reads (the library pages and progress) were 50 % of the cached reads at 50 users and hit 90 %" in text
    )
    assert "**500 concurrent users: holds**" in text  # 300 req/s = 100 % of 10 x 30, p95 80 ms
    # Server CPU per request at 500 users: (50 + 10 + 2) s / 21,000 on, (50 + 40 + 2) s / 21,000 off.
    assert "about 677 req/s with the cache on and 457 req/s with it off" in text
    assert "**Responses under 50 ms (p95 of every cached read, cache on): holds only at 50 users**" in text
    assert "`MGET` 1.00" in text  # Redis commands per request, the bench's own FLUSHALL left out
    assert "[on-50](loadtest-html/on-50.html)" in text
    for image in ("throughput", "endpoints", "cost", "hitrate"):
        assert (docs / f"loadtest-{image}.png").read_bytes().startswith(b"\x89PNG")
        assert f"(loadtest-{image}.png)" in text
    rows = (docs / "loadtest-endpoints.csv").read_text().splitlines()
    assert rows[0].startswith("users,cache,endpoint,requests")
    assert len(rows) == 1 + 4 * 3
    assert (docs / "loadtest-html" / "on-50.html").exists()
