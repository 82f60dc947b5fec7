"""PNG plots of the bench and the load test (matplotlib, no display needed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {
    "on": "#2a7ab9",
    "off": "#d1603d",
    "cache on": "#2a7ab9",
    "cache off": "#d1603d",
    "cache on, zlib": "#7aa457",
}
TARGET_MS = 50


def _save(figure, path):
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def bench_plot(table, path):
    """Requests per second of each read, per configuration, with /healthz as the floor."""
    reads = [name for name in table if not name.startswith("healthz")]
    configs = list(next(iter(table.values())))
    floor = next(row for name, row in table.items() if name.startswith("healthz"))["cache on"]["rps"]
    figure, axis = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(configs)
    for index, config in enumerate(configs):
        xs = [n + (index - (len(configs) - 1) / 2) * width for n in range(len(reads))]
        axis.bar(xs, [table[read][config]["rps"] for read in reads], width, label=config, color=COLOURS.get(config))
    axis.axhline(floor, color="grey", linestyle="--", label=f"/healthz (floor): {floor:.0f} req/s")
    axis.set_xticks(range(len(reads)), reads)
    axis.set_ylabel("requests per second (median of rounds)")
    axis.set_title("Warm reads, one endpoint at a time")
    axis.legend(fontsize=8)
    return _save(figure, path)


def throughput_latency(levels, summary, path):
    """Total req/s and p50/p95/p99 of every request against the number of users."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for config in ("on", "off"):
        rows = [summary.get((users, config)) for users in levels]
        xs = [users for users, row in zip(levels, rows, strict=True) if row]
        rows = [row for row in rows if row]
        if not rows:
            continue
        colour = COLOURS[config]
        left.plot(xs, [row["rps"] for row in rows], "o-", color=colour, label=f"cache {config}")
        for quantile, style in (("p50", ":"), ("p95", "-"), ("p99", "--")):
            right.plot(xs, [row[quantile] for row in rows], style, marker="o", color=colour,
                       label=f"cache {config} {quantile}")  # fmt: skip
    left.set_xlabel("users")
    left.set_ylabel("requests per second (all endpoints)")
    left.set_title("Throughput")
    left.legend()
    right.set_xlabel("users")
    right.set_ylabel("response time, ms (log)")
    right.set_yscale("log")
    right.axhline(TARGET_MS, color="grey", linewidth=0.8)
    right.set_title("Response time of all requests")
    right.legend(fontsize=7, ncol=2)
    return _save(figure, path)


SHORT = {
    "GET books/": "library",
    "GET books/?offset=20": "library p.2",
    "GET books/?shelf=mine": "my shelf",
    "GET books/{id}/": "book",
    "GET books/{id}/chapters/": "chapter list",
    "GET books/{id}/chapters/{n}/": "chapter",
    "GET books/{id}/progress/": "progress",
    "GET books/{id}/descriptions/": "descriptions",
    "PUT books/{id}/progress/": "PUT\nprogress",
    "POST books/{id}/descriptions/": "POST\ndescription",
    "PATCH books/{id}/": "PATCH\nbook",
    "PATCH books/{id}/chapters/{n}/": "PATCH\nchapter",
}


def short_name(endpoint):
    return SHORT.get(endpoint, endpoint.replace(" ", "\n", 1))


def endpoints_p95(levels, endpoints, per_endpoint, path):
    """p95 (bar) and p50 (dot) per endpoint, cache on and off, one panel per number of users."""
    figure, axes = plt.subplots(len(levels), 1, figsize=(11, 3.2 * len(levels)), squeeze=False)
    width = 0.38
    for axis, users in zip(axes[:, 0], levels, strict=True):
        for index, config in enumerate(("on", "off")):
            xs = [n + (index - 0.5) * width for n in range(len(endpoints))]
            rows = [per_endpoint.get((users, config, name)) or {} for name in endpoints]
            axis.bar(
                xs, [row.get("p95") or 0 for row in rows], width, color=COLOURS[config], label=f"cache {config} p95"
            )
            axis.plot(xs, [row.get("p50") or float("nan") for row in rows], "k.", markersize=5)
        axis.axhline(TARGET_MS, color="grey", linestyle="--", linewidth=0.8, label=f"{TARGET_MS} ms")
        axis.set_yscale("log")
        axis.set_ylabel("ms (log)")
        axis.set_title(f"{users} users: p95 per endpoint (dots: p50)")
        axis.set_xticks(range(len(endpoints)), [short_name(name) for name in endpoints], fontsize=8)
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(figure, path)


def cost_per_request(levels, summary, path):
    """Database transactions, Redis commands and CPU per request, cache on and off."""
    figure, axes = plt.subplots(1, 3, figsize=(12, 4))
    width = 0.38
    xs = range(len(levels))
    for index, config in enumerate(("on", "off")):
        offset = [x + (index - 0.5) * width for x in xs]
        rows = [summary.get((users, config)) or {} for users in levels]
        axes[0].bar(offset, [row.get("db_per_request", 0) for row in rows], width, color=COLOURS[config],
                    label=f"cache {config}")  # fmt: skip
        axes[1].bar(offset, [row.get("redis_per_request", 0) for row in rows], width, color=COLOURS[config],
                    label=f"cache {config}")  # fmt: skip
        bottom = [0.0] * len(rows)
        for part, hatch in (("gunicorn", ""), ("postgres", "//"), ("redis", "..")):
            heights = [row.get("cpu_ms", {}).get(part, 0) for row in rows]
            axes[2].bar(offset, heights, width, bottom=bottom, color=COLOURS[config], hatch=hatch, edgecolor="white",
                        label=f"{config}: {part}")  # fmt: skip
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    titles = ("PostgreSQL transactions per request", "Redis commands per request", "server CPU ms per request")
    for axis, title in zip(axes, titles, strict=True):
        axis.set_xticks(list(xs), [f"{users} users" for users in levels])
        axis.set_title(title, fontsize=10)
        axis.legend(fontsize=7)
    return _save(figure, path)


def hit_rates(levels, buckets, bucket_seconds, per_read, path):
    """Left: share of HIT per bucket of a run from an empty cache. Right: per read, over the whole run."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 1.3]})
    for users in levels:
        series = buckets.get(users)
        if not series:
            continue
        xs = [(bucket + 0.5) * bucket_seconds for bucket, _ in series]
        left.plot(xs, [rate for _, rate in series], "o-", label=f"{users} users")
    left.axhline(85, color="grey", linestyle="--", linewidth=0.8, label="85 %")
    left.set_ylim(0, 100)
    left.set_xlabel("seconds since the run started (empty cache at 0)")
    left.set_ylabel("hit rate of cached reads, %")
    left.set_title("Hit rate over a run, cache on", fontsize=10)
    left.legend(fontsize=8)
    reads = [name for name in SHORT if name.startswith("GET ") and any(name in rows for rows in per_read.values())]
    width = 0.8 / max(len(levels), 1)
    for index, users in enumerate(levels):
        rows = per_read.get(users, {})
        xs = [n + (index - (len(levels) - 1) / 2) * width for n in range(len(reads))]
        right.bar(xs, [rows.get(name) or 0 for name in reads], width, label=f"{users} users")
    right.axhline(85, color="grey", linestyle="--", linewidth=0.8)
    right.set_ylim(0, 100)
    right.set_xticks(range(len(reads)), [short_name(name) for name in reads], fontsize=8, rotation=20)
    right.set_title("Hit rate per read over the whole run, cache on", fontsize=10)
    right.legend(fontsize=8)
    return _save(figure, path)
