"""Gunicorn settings for reader; every value can be overridden from the environment.

GUNICORN_BIND         address to listen on (default 127.0.0.1:8000; the Docker image sets 0.0.0.0:8000)
WEB_CONCURRENCY       number of sync workers (default 2 * cores + 1, at most MAX_DEFAULT_WORKERS)
GUNICORN_TIMEOUT      seconds before a silent worker is killed and restarted (default 30)
GUNICORN_ACCESS_LOG   "1"/"true" logs requests to stdout, a path logs to that file (default off)
GUNICORN_LOG_LEVEL    error log level (default info)
GUNICORN_MAX_REQUESTS recycle a worker after this many requests (default 1000, 0 disables)
GUNICORN_MAX_REQUESTS_JITTER  random extra requests so workers do not all restart together
GUNICORN_CONTROL_SOCKET       path of gunicorn's control socket (default: no control socket)
PROMETHEUS_MULTIPROC_DIR      where every worker writes its metrics for /metrics to add up (default: a
                              directory of this server's own, made at start and removed at exit;
                              set it to share one with the Celery worker, see README "Metrics")
GUNICORN_START_WORKER "1"/"true" starts a Celery worker (`celery -A config worker`) once gunicorn is
                      ready and stops it when gunicorn exits; `make run` sets it (default off: docker-compose
                      runs the worker as a service of its own)
CELERY_WORKER_CONCURRENCY     processes of that worker (default 2)
"""

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile

# Each sync worker holds its own database and Redis connections: keep the default modest.
MAX_DEFAULT_WORKERS = 12

_FALSE = {"", "0", "false", "no", "off"}
_TRUE = {"1", "true", "yes", "on", "-"}


def _env_int(name, default, minimum=0):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, not {value!r}") from exc
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {number}")
    return number


def _cores():
    try:
        return len(os.sched_getaffinity(0))  # honours CPU pinning (taskset, cpusets)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _access_log():
    value = os.environ.get("GUNICORN_ACCESS_LOG", "").strip()
    if value.lower() in _FALSE:
        return None
    if value.lower() in _TRUE:
        return "-"
    return value


bind = os.environ.get("GUNICORN_BIND", "").strip() or "127.0.0.1:8000"
worker_class = "sync"
workers = _env_int("WEB_CONCURRENCY", min(2 * _cores() + 1, MAX_DEFAULT_WORKERS), minimum=1)
timeout = _env_int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = timeout
keepalive = 2

max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10)

accesslog = _access_log()
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# The worker heartbeat file lives in memory when possible (disk-backed /tmp can stall workers).
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
    worker_tmp_dir = "/dev/shm"

# Gunicorn's control socket would otherwise live in $HOME/.gunicorn, shared by every instance.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if _control_socket:
    control_socket = _control_socket
else:
    control_socket_disable = True


# --- Prometheus metrics (cacheadmin.metrics): prometheus-client's multiprocess mode ----------------
# Each worker writes its values to files in PROMETHEUS_MULTIPROC_DIR and /metrics, served by any
# worker, adds every file up. The variable must be set before a worker imports prometheus_client:
# on_starting runs in the master before the first fork (and is not run again on a reload).
_PRIVATE_DIR_MARK = "READER_PRIVATE_METRICS_DIR"  # names the directory a master made for itself


def _private_metrics_dir():
    """This master's own directory, in memory when possible; it is removed at exit."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    return os.path.join(base, f"reader-metrics-{os.getpid()}")


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not directory or directory == os.environ.get(_PRIVATE_DIR_MARK):  # unset, or an old master's (USR2)
        directory = os.environ[_PRIVATE_DIR_MARK] = _private_metrics_dir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.makedirs(directory, exist_ok=True)
    from cacheadmin.metrics_files import forget_dead_processes  # no metric, no Django: the master stays clean

    forget_dead_processes(directory)


def child_exit(server, worker):
    """A worker ended (recycled, killed, timed out): its live-only gauges go, its counters stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _remove_private_metrics_dir():
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if directory == os.environ.get(_PRIVATE_DIR_MARK) == _private_metrics_dir():
        shutil.rmtree(directory, ignore_errors=True)


# --- a Celery worker beside gunicorn (`make run`): one command serves requests and runs jobs
start_worker = os.environ.get("GUNICORN_START_WORKER", "").strip().lower() in {"1", "true", "yes", "on"}
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """In the worker: SIGTERM when the gunicorn master dies, even by SIGKILL (Linux; elsewhere a no-op)."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def celery_command():
    concurrency = _env_int("CELERY_WORKER_CONCURRENCY", 2, minimum=1)
    return [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "info",
            "--concurrency", str(concurrency)]  # fmt: skip


def when_ready(server):
    if not start_worker:
        return
    server.celery_worker = subprocess.Popen(
        celery_command(), cwd=os.path.dirname(os.path.abspath(__file__)), preexec_fn=_die_with_parent
    )
    server.log.info("Started a Celery worker (pid: %s)", server.celery_worker.pid)


def on_exit(server):
    _stop_celery_worker(server)  # first: it may still write its metrics
    _remove_private_metrics_dir()


def _stop_celery_worker(server):
    worker = getattr(server, "celery_worker", None)
    if worker is None or worker.poll() is not None:
        return
    server.log.info("Stopping the Celery worker (pid: %s)", worker.pid)
    worker.terminate()  # warm shutdown: the job in hand may finish within the graceful timeout
    try:
        worker.wait(graceful_timeout)
    except subprocess.TimeoutExpired:
        worker.kill()  # its job's message was not acknowledged: it comes back (cacheadmin.jobs)
        worker.wait()
