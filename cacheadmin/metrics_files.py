"""The files of prometheus-client's multiprocess mode, without creating any metric.

gunicorn's master uses this before its workers start (importing cacheadmin.metrics there
would give the master metric files of its own); a task worker may use it at its start.
"""

import os

ENV = "PROMETHEUS_MULTIPROC_DIR"


def directory():
    """The directory shared by every process of this deployment, or None (one process)."""
    return os.environ.get(ENV, "").strip() or None


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def forget_dead_processes(path):
    """Remove the files of processes that no longer run (an earlier run): their counters start
    again from 0, which Prometheus reads as a restart. Files of live processes stay.

    Pids are only meaningful in one pid namespace: never share a directory between containers.
    """
    for name in os.listdir(path):
        stem, ext = os.path.splitext(name)
        pid = stem.rsplit("_", 1)[-1]
        if ext == ".db" and pid.isdigit() and not process_alive(int(pid)):
            os.remove(os.path.join(path, name))
