"""Load tools for bench/run.py: wrk when it is installed, else Locust's FastHttpUser, headless.

Both hold `connections` requests in flight with no think time against one path and give back
the same numbers: requests, req/s, p50 and p99 in ms, failed requests, and the CPU seconds the
tool itself used (so the client's share of the 2-core machine shows).
"""

import json
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import locuststats
from common import ROOT, VENV_BIN

BENCH = ROOT / "bench"
TOOLS = ("wrk", "locust")
INSTALL_WRK = "apt-get install -y wrk"


def pick_tool(preference="auto"):
    """'wrk' when installed (or asked for), else 'locust'."""
    if preference == "locust":
        return "locust"
    if shutil.which("wrk"):
        return "wrk"
    if preference == "wrk":
        raise SystemExit(f"wrk is not installed (on Debian: {INSTALL_WRK}); or use --tool locust")
    return "locust"


def load(tool, base_url, path, token, seconds, connections, threads=2):
    run = run_wrk if tool == "wrk" else run_locust
    return run(base_url, path, token, seconds, connections, threads)


def _run_measured(command, env=None):
    """Run a command to its end; its stdout, exit status and CPU seconds (user + system)."""
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return out.read().decode(errors="replace"), process.returncode, usage.ru_utime + usage.ru_stime


# --- wrk ----------------------------------------------------------------------------


def run_wrk(base_url, path, token, seconds, connections, threads=2):
    command = ["wrk", f"-t{max(1, min(threads, connections))}", f"-c{connections}", f"-d{max(1, math.ceil(seconds))}s"]
    command += ["--timeout", "10s", "-s", str(BENCH / "wrk_report.lua")]
    command += ["-H", "Accept: application/json", "-H", "Connection: close"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    output, code, cpu = _run_measured([*command, base_url + path])
    if code != 0:
        raise RuntimeError(f"wrk failed ({code}): {output[-500:]}")
    return parse_wrk(output, cpu)


def parse_wrk(output, cpu=0.0):
    """The numbers of wrk_report.lua's BENCH-JSON line."""
    line = next((line for line in output.splitlines() if line.startswith("BENCH-JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no BENCH-JSON line: {output[-500:]}")
    data = json.loads(line.split(" ", 1)[1])
    seconds = data["duration_us"] / 1e6
    errors = sum(data["errors"].values())
    return {
        "requests": data["requests"],
        "rps": (data["requests"] - data["errors"]["status"]) / seconds if seconds else 0.0,
        "p50": data["p50_us"] / 1000,
        "p99": data["p99_us"] / 1000,
        "errors": errors,
        "client_cpu": cpu,
    }


# --- Locust ---------------------------------------------------------------------------


def run_locust(base_url, path, token, seconds, connections, threads=2):
    with tempfile.TemporaryDirectory() as folder:
        prefix = Path(folder) / "run"
        command = [str(VENV_BIN / "locust"), "-f", str(BENCH / "locust_fixed.py"), "--headless"]
        # Under 2 s Locust spends the run starting up: it makes hardly a request.
        command += ["-u", str(connections), "-r", str(connections), "-t", f"{max(2, math.ceil(seconds))}s"]
        command += ["--host", base_url, "--json-file", str(prefix), "--stop-timeout", "1"]
        command += ["--loglevel", "WARNING", "--exit-code-on-error", "0"]
        env = {**os.environ, "BENCH_PATH": path, "BENCH_TOKEN": token or ""}
        output, code, cpu = _run_measured(command, env)
        stats = Path(f"{prefix}.json")
        if code != 0 or not stats.exists():
            raise RuntimeError(f"locust failed ({code}): {output[-500:]}")
        return from_locust(locuststats.read(stats), cpu)


def from_locust(endpoints, cpu=0.0):
    """The bench's numbers from Locust's (bench/locuststats.py); failed requests do not count in req/s."""
    total = endpoints["Aggregated"]
    requests, failures = total["requests"], total["failures"]
    return {
        "requests": requests,
        "rps": total["rps"] * (requests - failures) / requests if requests else 0.0,
        "p50": total["p50"] if total["p50"] is not None else float("nan"),
        "p99": total["p99"] if total["p99"] is not None else float("nan"),
        "errors": failures,
        "client_cpu": cpu,
    }
