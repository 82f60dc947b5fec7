"""Locust's final statistics (`--json-file`), per endpoint and all together.

Locust rewrites its `--csv` files once a second while it runs and not again when it stops,
so they miss the last second and the users' stop; the JSON file is written at exit with
everything. Percentiles are computed from Locust's own histogram the way Locust computes
them (response times rounded to whole ms below 100 ms, to 10 ms below 1 s, then to 100 ms).
"""

import json
from collections import Counter
from pathlib import Path

QUANTILES = (50, 95, 99)


def percentile(histogram, count, percent):
    """Locust's calculate_response_time_percentile on {response time: requests}."""
    wanted = int(count * percent)
    seen = 0
    for response_time in sorted(histogram, reverse=True):
        seen += histogram[response_time]
        if count - seen <= wanted:
            return response_time
    return 0


def _numbers(count, failures, total_time, size, histogram, seconds):
    timed = sum(histogram.values())
    return {
        "requests": count,
        "failures": failures,
        "rps": count / seconds if seconds > 0 else 0.0,
        "mean": total_time / timed if timed else None,
        "size": size / count if count else 0.0,
        **{f"p{q}": (percentile(histogram, timed, q / 100) if timed else None) for q in QUANTILES},
    }


def read(path):
    """{"GET books/": {...}, ..., "Aggregated": {...}} with requests, failures, rps, mean, size, p50/p95/p99."""
    entries = json.loads(Path(path).read_text())
    if not entries:
        return {"Aggregated": _numbers(0, 0, 0, 0, {}, 0)}
    seconds = max(e["last_request_timestamp"] or 0 for e in entries) - min(e["start_time"] for e in entries)
    result, everything = {}, Counter()
    for entry in entries:
        histogram = Counter({float(key): value for key, value in entry["response_times"].items()})
        everything.update(histogram)
        result[f"{entry['method']} {entry['name']}"] = _numbers(
            entry["num_requests"], entry["num_failures"], entry["total_response_time"],
            entry["total_content_length"], histogram, seconds,
        )  # fmt: skip
    result["Aggregated"] = _numbers(
        sum(e["num_requests"] for e in entries), sum(e["num_failures"] for e in entries),
        sum(e["total_response_time"] for e in entries), sum(e["total_content_length"] for e in entries),
        everything, seconds,
    )  # fmt: skip
    return result
