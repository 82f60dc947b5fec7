"""What the metrics cost: the per-request instrumentation, and a scrape.

    .venv/bin/python bench/metrics_cost.py            # both modes, one line each
    .venv/bin/python bench/metrics_cost.py --dead 300 # scrape with 300 ended processes' files

Each mode runs in a process of its own: prometheus-client picks single- or multiprocess
mode when it is first imported.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MEASURE = """
import time, timeit
from cacheadmin import metrics

def request_path():  # what CachedReadMixin.dispatch adds to a request
    started = time.perf_counter()
    headers = {"X-Cache": "HIT"}
    outcome = headers.get("X-Cache")
    if outcome is not None:
        metrics.cached_read("book", outcome, time.perf_counter() - started)

def with_labels():  # the same without the children cache
    metrics.CACHED_READS.labels("book", "HIT").inc()
    metrics.READ_SECONDS.labels("book", "HIT").observe(0.001)

def best(stmt, number=20000, repeat=5):
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e6

def nothing():
    pass

print(f"(an empty call {best(nothing):.2f} us) "
      f"cached_read {best(lambda: metrics.cached_read('book', 'HIT', 0.001)):.2f} us, "
      f"whole request path {best(request_path):.2f} us, "
      f"labels() each time {best(with_labels):.2f} us, "
      f"breaker/retirement counter {best(lambda: metrics.retirement('sent')):.2f} us")
"""

SCRAPE = """
import timeit
from cacheadmin import metrics
metrics.declare_reads(["book_list", "book", "chapter_list", "chapter", "progress", "descriptions"])
for read in ["book_list", "book", "chapter_list", "chapter", "progress", "descriptions"]:
    for outcome in ["HIT", "MISS", "BYPASS"]:
        metrics.cached_read(read, outcome, 0.001)
        metrics.answers_stored([(read, 1000)])
print(f"scrape {min(timeit.repeat(metrics.exposition, number=5, repeat=3)) / 5 * 1000:.1f} ms, "
      f"{len(metrics.exposition())} bytes")
"""


def run(code, multiprocess_dir=None):
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    if multiprocess_dir:
        env["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dead", type=int, default=30, help="ended processes whose files a scrape reads")
    args = parser.parse_args()

    print("single process: ", run(MEASURE))
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None) as directory:
        print("multiprocess:   ", run(MEASURE, directory))
        for _ in range(args.dead):  # each leaves its files, like a recycled gunicorn worker
            run("from cacheadmin import metrics; metrics.cached_read('book', 'HIT', 0.001)", directory)
        files = len(list(Path(directory).glob("*.db")))
        print(f"scrape, single process: {run(SCRAPE)}")
        print(f"scrape, multiprocess with {args.dead + 1} processes' files ({files} files): {run(SCRAPE, directory)}")


if __name__ == "__main__":
    main()
