"""One path, closed loop, no think time: bench/run.py's load when wrk is not installed.

BENCH_PATH and BENCH_TOKEN come from the environment (see bench/drivers.py).
"""

import os

from locust import FastHttpUser, constant, task

PATH = os.environ.get("BENCH_PATH", "/healthz")
HEADERS = {"Accept": "application/json", "Connection": "close"}
if os.environ.get("BENCH_TOKEN"):
    HEADERS["Authorization"] = f"Bearer {os.environ['BENCH_TOKEN']}"


class OnePath(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get(PATH, headers=HEADERS, name="load")
