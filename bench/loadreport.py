"""The load test's summary: docs/loadtest.md, CSV tables and PNG plots, from results.json.

`.venv/bin/python bench/loadreport.py [results.json] [docs/]` writes them again from raw results.
"""

import csv
import shutil
import sys
from pathlib import Path

import plots

ROOT = Path(__file__).resolve().parent.parent
ORDER = [
    "GET books/",
    "GET books/?offset=20",
    "GET books/?shelf=mine",
    "GET books/{id}/",
    "GET books/{id}/chapters/",
    "GET books/{id}/chapters/{n}/",
    "GET books/{id}/progress/",
    "GET books/{id}/descriptions/",
    "PUT books/{id}/progress/",
    "POST books/{id}/descriptions/",
    "PATCH books/{id}/",
    "PATCH books/{id}/chapters/{n}/",
]
STEADY_AFTER_SECONDS = 30
HTML_LIMIT = 2 * 1024 * 1024
NOT_APP_COMMANDS = {"flushall"}  # the bench's own (its two INFO calls per run are left in: the relay uses INFO)


# --- numbers per run ---------------------------------------------------------------------


def summarize(run, cores):
    """The per-run numbers of the report (per request: divided by every request Locust made)."""
    total = run["endpoints"]["Aggregated"]
    requests = max(total["requests"], 1)
    pg = run["postgres"]
    hits, misses, bypass, steady = _xcache(run["xcache"])
    redis = sum(calls for name, calls in run["redis_commands"].items() if name not in NOT_APP_COMMANDS)
    ours = sum(run["cpu"].values())
    return {
        "requests": total["requests"],
        "failures": total["failures"],
        "rps": total["rps"],
        "p50": total["p50"],
        "p95": total["p95"],
        "p99": total["p99"],
        "hit_rate": _rate(hits, hits + misses + bypass),
        "steady_hit_rate": steady,
        "db_per_request": (pg["xact_commit"] + pg["xact_rollback"]) / requests,
        # Each worker's relay thread reads the invalidation counter every 0.25 s, requests or not.
        "relay_per_request": _relay_checks(run) / requests,
        "db_per_second": (pg["xact_commit"] + pg["xact_rollback"]) / run["seconds"],
        "rows_per_request": (pg["tup_returned"] + pg["tup_fetched"]) / requests,
        "scans_per_request": (pg["seq_scan"] + pg["idx_scan"]) / requests,
        "writes_per_request": (pg["tup_inserted"] + pg["tup_updated"] + pg["tup_deleted"]) / requests,
        "redis_per_request": redis / requests,
        "cpu_ms": {part: seconds * 1000 / requests for part, seconds in run["cpu"].items()},
        "machine_busy_percent": 100 * run["machine_busy"] / (run["seconds"] * cores),
        "others_percent": 100 * max(run["machine_busy"] - ours, 0) / (run["seconds"] * cores),
        "load_before": run["load_before"],
        "load_after": run["load_after"],
        "app_hit_rate": (run.get("app_stats") or {}).get("hit_rate_percent"),
    }


def _relay_checks(run):
    """How many times the workers' relay threads read the database during the run (one transaction each)."""
    interval = run.get("relay_seconds", 0.25)
    return run["workers"] * run["seconds"] / interval if run["config"] == "on" and interval > 0 else 0


def _xcache(counts):
    """Hits, misses and bypasses of the cached reads, and the hit rate after the first 30 s."""
    outcomes = {"HIT": 0, "MISS": 0, "BYPASS": 0}
    for per_endpoint in counts["by_endpoint"].values():
        for outcome, number in per_endpoint.items():
            outcomes[outcome] = outcomes.get(outcome, 0) + number
    first = STEADY_AFTER_SECONDS // counts["bucket_seconds"]
    late = [counts["by_bucket"][key] for key in counts["by_bucket"] if int(key) >= first]
    late_hits = sum(bucket.get("HIT", 0) for bucket in late)
    late_total = sum(sum(bucket.values()) for bucket in late)
    return outcomes["HIT"], outcomes["MISS"], outcomes["BYPASS"], _rate(late_hits, late_total)


def _rate(part, whole):
    return 100.0 * part / whole if whole else None


def hit_series(counts):
    rows = sorted((int(key), bucket) for key, bucket in counts["by_bucket"].items())
    # The last bucket holds the stop's few seconds only: left out of the plot.
    return [(key, _rate(bucket.get("HIT", 0), sum(bucket.values()))) for key, bucket in rows[:-1]]


def endpoint_rows(run):
    rows = {}
    for name, numbers in run["endpoints"].items():
        if name == "Aggregated":
            continue
        outcome = run["xcache"]["by_endpoint"].get(name.split(" ", 1)[1], {}) if name.startswith("GET ") else {}
        cached = sum(outcome.values())
        rows[name] = {**numbers, "hit_rate": _rate(outcome.get("HIT", 0), cached) if cached else None, **outcome}
    return rows


# --- the Markdown -------------------------------------------------------------------------


def _f(value, digits=0, unit=""):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{unit}"


def _load(values):
    return "/".join(f"{value:.1f}" for value in values)


def write_report(results_path, docs):
    import json

    data = json.loads(Path(results_path).read_text())
    meta, runs = data["meta"], data["runs"]
    docs = Path(docs)
    docs.mkdir(parents=True, exist_ok=True)
    levels = sorted({run["users"] for run in runs})
    summary = {(run["users"], run["config"]): summarize(run, meta["cores"]) for run in runs}
    per_endpoint = {
        (run["users"], run["config"], name): row for run in runs for name, row in endpoint_rows(run).items()
    }
    endpoints = [name for name in ORDER if any(key[2] == name for key in per_endpoint)]
    endpoints += sorted({key[2] for key in per_endpoint} - set(endpoints))

    images = {
        "throughput": plots.throughput_latency(levels, summary, docs / "loadtest-throughput.png"),
        "endpoints": plots.endpoints_p95(levels, endpoints, per_endpoint, docs / "loadtest-endpoints.png"),
        "cost": plots.cost_per_request(levels, summary, docs / "loadtest-cost.png"),
        "hits": plots.hit_rates(
            levels,
            {run["users"]: hit_series(run["xcache"]) for run in runs if run["config"] == "on"},
            runs[0]["xcache"]["bucket_seconds"],
            {
                users: {name: row["hit_rate"] for (u, c, name), row in per_endpoint.items() if u == users and c == "on"}
                for users in levels
            },
            docs / "loadtest-hitrate.png",
        ),
    }
    _write_csv(docs / "loadtest-runs.csv", summary)
    _write_endpoint_csv(docs / "loadtest-endpoints.csv", per_endpoint, endpoints)
    html = _copy_html(results_path, runs, docs / "loadtest-html")

    lines = _head(meta, runs, html, summary)
    lines += _claims(levels, summary, per_endpoint, endpoints, meta["cores"])
    lines += _runs_table(levels, summary)
    lines += ["", f"![throughput and latency]({images['throughput'].name})", ""]
    lines += _endpoint_tables(levels, per_endpoint, endpoints)
    lines += ["", f"![p95 per endpoint]({images['endpoints'].name})", ""]
    lines += _cost_table(levels, summary, runs)
    lines += ["", f"![cost per request]({images['cost'].name})", "", f"![hit rate over time]({images['hits'].name})"]
    lines += _notes()
    path = docs / "loadtest.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _head(meta, runs, html, summary):
    workers = runs[0]["workers"] if runs else "?"
    lines = [
        "# Load test: a realistic mix of reads and writes",
        "",
        "Written by `make loadtest` (`bench/loadtest.py`, `bench/locustfile.py`; `bench/loadreport.py` makes this",
        "page from `bench/results/loadtest/results.json`).",
        "",
        f"- Run of {meta['date']} on a machine with **{meta['cores']} cores** shared by the load generator (Locust),",
        f"  gunicorn ({workers} sync workers, the project's `gunicorn.conf.py`), PostgreSQL and a redis-server of",
        "  the load test's own — and by whatever else ran on the machine then (the load averages and the",
        f"  *other processes* column below tell: {_others(summary)}).",
        f"- Library: {meta['readers']} readers, {meta['books']} books (40 % public) of 10-40 chapters of 800-8,000",
        "  words (median about 3,000, a chapter answer of about 20 KB), a few descriptions each.",
        "- Users (bench/locustfile.py): 19 in 20 are **readers** — open their library (`GET books/`, sometimes",
        "  page 2), pick a book by Zipf's law on its popularity, read the book, its chapter list and their",
        "  progress, sometimes its descriptions, read 2-8 chapters in order, `PUT` their progress every 3",
        "  chapters and at the end, and on their own books sometimes add a description; 1 in 20 are",
        "  **editors** — open their shelf and retitle a book or edit a chapter (`PATCH`).",
        f"  Think time {meta['wait'].replace(',', '-')} s between steps (editors twice that): with instant answers"
        " a reader makes about one request a second, so N users ask for about N req/s.",
        f"- Each run: a fresh gunicorn, an **empty cache**, {meta['ramp']} s to start every user, then"
        f" {meta['seconds']} s;",
        "  the numbers cover the whole run, ramp included. Cache on and off run one after the other at each",
        "  number of users (alternating which goes first).",
    ]
    if html:
        lines.append(
            "- Locust's own HTML reports: " + ", ".join(f"[{name}](loadtest-html/{name}.html)" for name in html) + "."
        )
    return [*lines, ""]


def _others(summary):
    shares = [row["others_percent"] for row in summary.values()]
    if not shares or max(shares) < 10:
        return "other processes used under 10 % of the cores in every run"
    return (
        f"**other processes used {_f(min(shares))}–{_f(max(shares))} % of the cores** during the runs, so throughput"
        " and response times are far below what the service does on a machine of its own; the costs per request"
        " and the hit rates are the steadier numbers"
    )


def _claims(levels, summary, per_endpoint, endpoints, cores):
    lines = ["## The seed's claims on this machine", ""]
    on = {users: summary.get((users, "on")) for users in levels}
    off = {users: summary.get((users, "off")) for users in levels}

    rates = [(users, row["steady_hit_rate"], row["hit_rate"]) for users, row in on.items() if row]
    held = bool(rates) and all(steady is not None and steady >= 85 for _, steady, _ in rates)
    detail = "; ".join(f"{u} users: {_f(s, 1)} % after the first {STEADY_AFTER_SECONDS} s ({_f(w, 1)} % over the "
                       "whole run, from an empty cache)" for u, s, w in rates)  # fmt: skip
    lines.append(f"- **Hit rate over 85 %: {'holds' if held else 'does not hold'}** — {detail}.")
    app = [(users, row["app_hit_rate"]) for users, row in on.items() if row and row["app_hit_rate"] is not None]
    if app:
        lines.append(
            "  The app's own count (`GET admin/cache/stats/`, which also counts the answers Locust stopped waiting"
            " for when the run ended) gives " + ", ".join(f"{_f(rate, 1)} % at {u} users" for u, rate in app) + "."
        )
    split = [(users, _per_user_split(per_endpoint, users)) for users in levels if on[users]]
    if any(parts for _, parts in split):
        lines.append(
            "  Per-user reads (the library pages and progress) were "
            + "; ".join(
                f"{_f(share, 0)} % of the cached reads at {u} users and hit {_f(mine, 0)} % (the book, "
                f"chapter list, chapters and descriptions: {_f(others, 0)} %)"
                for u, (share, mine, others) in split
                if share is not None
            )  # fmt: skip
            + ": every reading session saves progress, which retires that reader's library and progress, and"
            " an edit of a public book retires every reader's library."
        )

    cuts = []
    for users in levels:
        if on[users] and off[users]:
            db = 1 - on[users]["db_per_request"] / off[users]["db_per_request"]
            no_relay = 1 - (on[users]["db_per_request"] - on[users]["relay_per_request"]) / off[users]["db_per_request"]
            cpu = 1 - on[users]["cpu_ms"]["postgres"] / max(off[users]["cpu_ms"]["postgres"], 1e-9)
            rows = 1 - on[users]["rows_per_request"] / max(off[users]["rows_per_request"], 1e-9)
            cuts.append((users, db, no_relay, cpu, rows))
    held = bool(cuts) and all(db >= 0.8 for _, db, _, _, _ in cuts)
    detail = "; ".join(f"{u} users: {_f(100 * db)} % fewer transactions ({_f(100 * nr)} % without the relay's "
                       f"checks), {_f(100 * rows)} % fewer rows read, {_f(100 * cpu)} % less PostgreSQL CPU per request"
                       for u, db, nr, cpu, rows in cuts)  # fmt: skip
    lines.append(f"- **Database load −80 %: {'holds' if held else 'does not hold'}** — {detail}.")

    top = max(levels)
    row, base = on.get(top), on.get(min(levels))
    if row and base:
        scaling = row["rps"] / (base["rps"] * top / min(levels))
        failures = 100 * row["failures"] / max(row["requests"], 1)
        held = failures < 0.1 and row["p95"] is not None and row["p95"] <= 1000 and scaling >= 0.9
        lines.append(
            f"- **{top} concurrent users: {'holds' if held else 'does not hold'}** (criteria: under 0.1 % failed,"
            f" p95 of all requests at most 1 s, throughput at least 90 % of {top // min(levels)}× the"
            f" {min(levels)}-user run) — cache on: {_f(row['rps'])} req/s = {_f(100 * scaling)} % of linear,"
            f" p95 {_f(row['p95'])} ms, p99 {_f(row['p99'])} ms, {_f(failures, 2)} % failed"
            + (
                f"; cache off: {_f(off[top]['rps'])} req/s, p95 {_f(off[top]['p95'])} ms"
                f", {_f(100 * off[top]['failures'] / max(off[top]['requests'], 1), 2)} % failed."
                if off.get(top)
                else "."
            )
        )
        lines.append(
            f"  Other processes used {_f(row['others_percent'])} % of the two cores during that run. At the server"
            " CPU per request measured (gunicorn + PostgreSQL + Redis), two cores of its own would serve at most"
            f" about {_f(_ceiling(row, cores))} req/s with the cache on"
            + (f" and {_f(_ceiling(off[top], cores))} req/s with it off" if off.get(top) else "")
            + " (Locust elsewhere)."
        )

    reads = [name for name in endpoints if name.startswith("GET ")]
    verdicts = []
    for users in levels:
        rows = {name: per_endpoint.get((users, "on", name)) for name in reads}
        slow = [name for name, r in rows.items() if r and (r["p95"] is None or r["p95"] >= plots.TARGET_MS)]
        p50s = [r["p50"] for r in rows.values() if r and r["p50"] is not None]
        p95s = [r["p95"] for r in rows.values() if r and r["p95"] is not None]
        verdicts.append((users, not slow, slow, p50s, p95s))
    held_at = [users for users, ok, *_ in verdicts if ok]
    detail = "; ".join(
        f"{u} users: p50 {_f(min(p50), 0)}–{_f(max(p50), 0)} ms, p95 {_f(min(p95), 0)}–{_f(max(p95), 0)} ms"
        + (f" (p95 ≥ 50 ms: {', '.join(s.removeprefix('GET ') for s in slow)})" if slow else "")
        for u, _, slow, p50, p95 in verdicts
        if p50 and p95
    )
    verdict = "holds" if len(held_at) == len(levels) else ("holds only at " + ", ".join(map(str, held_at)) + " users"
                                                           if held_at else "does not hold")  # fmt: skip
    lines.append(f"- **Responses under 50 ms (p95 of every cached read, cache on): {verdict}** — {detail}.")
    return [*lines, ""]


PER_USER = {"GET books/", "GET books/?offset=20", "GET books/?shelf=mine", "GET books/{id}/progress/"}


def _per_user_split(per_endpoint, users):
    """Share of the cached reads that are per user, their hit rate, and the others' hit rate."""
    counts = {"mine": [0, 0], "others": [0, 0]}  # hits, all
    for (u, config, name), row in per_endpoint.items():
        if u == users and config == "on" and name.startswith("GET "):
            part = counts["mine" if name in PER_USER else "others"]
            part[0] += row.get("HIT", 0)
            part[1] += row.get("HIT", 0) + row.get("MISS", 0) + row.get("BYPASS", 0)
    total = counts["mine"][1] + counts["others"][1]
    if not total:
        return None, None, None
    return 100 * counts["mine"][1] / total, _rate(*counts["mine"]), _rate(*counts["others"])


def _ceiling(row, cores):
    server_ms = row["cpu_ms"]["gunicorn"] + row["cpu_ms"]["postgres"] + row["cpu_ms"]["redis"]
    return cores * 1000 / server_ms if server_ms else None


def _runs_table(levels, summary):
    lines = [
        "## Every run",
        "",
        "| users | cache | requests | failed | req/s | p50 ms | p95 ms | p99 ms | hit rate | after 30 s | "
        "load avg before → after | machine busy | other processes |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for users in levels:
        for config in ("on", "off"):
            row = summary.get((users, config))
            if not row:
                continue
            lines.append(
                f"| {users} | {config} | {_f(row['requests'])} | {_f(row['failures'])} | {_f(row['rps'], 1)} "
                f"| {_f(row['p50'])} | {_f(row['p95'])} | {_f(row['p99'])} | {_f(row['hit_rate'], 1, ' %')} "
                f"| {_f(row['steady_hit_rate'], 1, ' %')} | {_load(row['load_before'])} → {_load(row['load_after'])} "
                f"| {_f(row['machine_busy_percent'], 0, ' %')} | {_f(row['others_percent'], 0, ' %')} |"
            )
    lines += [
        "",
        "*machine busy*: share of both cores not idle during the run (every process); *other processes*: that",
        "share less what gunicorn, PostgreSQL's backends of this database, Redis and Locust used.",
    ]
    return lines


def _endpoint_tables(levels, per_endpoint, endpoints):
    lines = ["## Per endpoint, cache on and off side by side", ""]
    for users in levels:
        lines += [
            f"### {users} users",
            "",
            "| endpoint | on req/s | p50 | p95 | p99 | hit rate | off req/s | p50 | p95 | p99 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name in endpoints:
            on = per_endpoint.get((users, "on", name)) or {}
            off = per_endpoint.get((users, "off", name)) or {}
            if not on and not off:
                continue
            lines.append(
                f"| `{name}` | {_f(on.get('rps'), 1)} | {_f(on.get('p50'))} | {_f(on.get('p95'))} "
                f"| {_f(on.get('p99'))} | {_f(on.get('hit_rate'), 0, ' %')} | {_f(off.get('rps'), 1)} "
                f"| {_f(off.get('p50'))} | {_f(off.get('p95'))} | {_f(off.get('p99'))} |"
            )
        lines.append("")
    lines.append("Response times in ms, as Locust measures them (whole ms; rounded to 2 digits above 100 ms).")
    return lines


def _cost_table(levels, summary, runs):
    lines = [
        "## What a request costs the servers",
        "",
        "| users | cache | PG transactions / req | of which relay (est.) | PG rows read / req | PG table scans / req "
        "| Redis commands / req | CPU ms / req: gunicorn | PostgreSQL | Redis | Locust |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for users in levels:
        for config in ("on", "off"):
            row = summary.get((users, config))
            if not row:
                continue
            cpu = row["cpu_ms"]
            lines.append(
                f"| {users} | {config} | {_f(row['db_per_request'], 2)} | {_f(row['relay_per_request'], 2)} "
                f"| {_f(row['rows_per_request'])} "
                f"| {_f(row['scans_per_request'], 2)} | {_f(row['redis_per_request'], 2)} | {_f(cpu['gunicorn'], 2)} "
                f"| {_f(cpu['postgres'], 2)} | {_f(cpu['redis'], 2)} | {_f(cpu['locust'], 2)} |"
            )
    busiest = max((run for run in runs if run["config"] == "on"), key=lambda run: run["users"], default=None)
    if busiest:
        requests = max(busiest["endpoints"]["Aggregated"]["requests"], 1)
        commands = sorted(
            ((name, calls) for name, calls in busiest["redis_commands"].items() if name not in NOT_APP_COMMANDS),
            key=lambda item: -item[1],
        )
        lines += [
            "",
            f"Redis commands per request by command, cache on, {busiest['users']} users: "
            + ", ".join(f"`{name.upper()}` {calls / requests:.2f}" for name, calls in commands)
            + ".",
        ]
    lines += [
        "",
        "How these are counted (bench/probes.py): PostgreSQL's `pg_stat_statements` needs",
        "`shared_preload_libraries`, that is a restart of the server, which this shared development server does",
        "not get; so statements are counted from the cumulative statistics that need nothing:",
        "`pg_stat_database.xact_commit + xact_rollback` of this database — Django runs every query outside an",
        "atomic block in autocommit, one transaction each, so for reads this is the number of statements, and",
        "a write's atomic block (several statements) counts once — next to rows read (`tup_returned +",
        "tup_fetched`) and table scans (`pg_stat_user_tables.seq_scan + idx_scan`). The last snapshot is taken",
        "after gunicorn stopped and its backends exited (a backend reports at exit whatever it had not yet).",
        "They include the cache's own database work: each worker's relay thread reads the invalidation",
        "counter every 0.25 s, busy or idle (*of which relay*: workers × seconds × 4, an estimate). Redis:",
        "`INFO commandstats` of the load test's own redis-server (the counts include the statistics flushes,",
        "the relay's `INFO` and `EVAL` and the probe's own two `INFO`). CPU: `/proc/<pid>/stat` (utime + stime) of",
        "gunicorn's master and workers, of this database's PostgreSQL backends and of redis-server, divided by",
        "every request Locust made; Locust's own CPU for comparison.",
    ]
    return lines


def _notes():
    return [
        "",
        "## How to read it",
        "",
        "- Every run starts from an empty cache and lasts about a minute: the hit rate over the whole run",
        "  includes the cold start; the rate after the first 30 s is closer to a service that has been up",
        "  for a while, and the plot shows it still rising at the end. Per-user reads (the library, progress)",
        "  are retired by every progress save of that user, and a public book's edit retires every user's",
        "  library page: they hit least.",
        "- Closed loop with think time: while the service keeps up, req/s follows the number of users and",
        "  both configurations show about the same throughput; the difference shows in response times and in",
        "  what each request costs. When the machine saturates, throughput stops growing and response times",
        "  climb — on 2 cores shared with Locust, PostgreSQL and other work, that comes early.",
        "- Numbers taken while other test suites ran on the same 2 cores are noisy: compare the columns of one",
        "  run with each other more than with another day's run.",
    ]


# --- CSV and HTML ------------------------------------------------------------------------


def _write_csv(path, summary):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["users", "cache", "requests", "failures", "rps", "p50_ms", "p95_ms", "p99_ms", "hit_rate", "hit_rate_30s",
             "pg_transactions_per_request", "pg_rows_per_request", "pg_scans_per_request", "redis_commands_per_request",
             "cpu_ms_gunicorn", "cpu_ms_postgres", "cpu_ms_redis", "cpu_ms_locust", "load_before", "load_after"]
        )  # fmt: skip
        for (users, config), row in sorted(summary.items()):
            cpu = row["cpu_ms"]
            writer.writerow(
                [users, config, row["requests"], row["failures"], round(row["rps"], 2), row["p50"], row["p95"],
                 row["p99"], _round(row["hit_rate"]), _round(row["steady_hit_rate"]), _round(row["db_per_request"]),
                 _round(row["rows_per_request"]), _round(row["scans_per_request"]), _round(row["redis_per_request"]),
                 _round(cpu["gunicorn"]), _round(cpu["postgres"]), _round(cpu["redis"]), _round(cpu["locust"]),
                 _load(row["load_before"]), _load(row["load_after"])]
            )  # fmt: skip


def _write_endpoint_csv(path, per_endpoint, endpoints):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["users", "cache", "endpoint", "requests", "failures", "rps", "p50_ms", "p95_ms", "p99_ms",
                         "hits", "misses", "bypasses"])  # fmt: skip
        order = sorted(per_endpoint, key=lambda key: (key[0], key[1], endpoints.index(key[2])))
        for users, config, name in order:
            row = per_endpoint[(users, config, name)]
            writer.writerow([users, config, name, row["requests"], row["failures"], round(row["rps"], 2), row["p50"],
                             row["p95"], row["p99"], row.get("HIT", ""), row.get("MISS", ""),
                             row.get("BYPASS", "")])  # fmt: skip


def _round(value):
    return None if value is None else round(value, 3)


def _copy_html(results_path, runs, folder):
    """Locust's HTML reports next to the summary, those under 2 MB (they are about 1 MB)."""
    copied = []
    source = Path(results_path).parent
    for run in runs:
        html = source / f"{run['name']}.html"
        if html.exists() and html.stat().st_size <= HTML_LIMIT:
            folder.mkdir(exist_ok=True)
            shutil.copyfile(html, folder / html.name)
            copied.append(run["name"])
    return copied


if __name__ == "__main__":
    results = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "results" / "loadtest" / "results.json"
    print(write_report(results, Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs"))
