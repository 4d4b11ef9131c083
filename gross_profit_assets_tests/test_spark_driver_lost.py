"""When the Spark driver dies mid-run (a 50M-line month once took its JVM down for memory), the
CLI stops, says what happened and how to give the driver more memory, and names the months
left without a report, instead of failing every later run with "Connection refused"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from gross_profit_assets.generate import generate

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "gross_profit_assets.cli"]


def kill_the_jvm_while_it_writes(parent: psutil.Process, lake: Path, killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the Spark JVM under ``parent`` (as the kernel's OOM killer would) as soon as it
    is writing the first month's Parquet (a staging directory appears in the lake): the
    session is up and working, inside the first run."""
    while not stop.is_set():
        if lake.is_dir() and any(".staging" in path.parts for path in lake.rglob("*")):
            for child in parent.children(recursive=True):
                if child.name() == "java":
                    child.send_signal(signal.SIGKILL)
                    killed.append(child.pid)
            return
        stop.wait(0.005)


def test_a_dead_spark_driver_stops_the_run_and_says_why(tmp_path: Path) -> None:
    data = generate(tmp_path / "exports", rows=600, months=2, start_month="2023-01")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {
        "SPARK_LOCAL_IP": "127.0.0.1",
        "GROSS_PROFIT_MONTHS_PER_RUN": "1",  # two runs: the second must not be tried
    }
    subprocess.run([*CLI, "--home", str(home), "ingest", *map(str, data.files)], env=env, check=True,
                   capture_output=True, timeout=300)
    run = subprocess.Popen([*CLI, "--home", str(home), "run", "--json"], env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed: list[int] = []
    stop = threading.Event()
    watcher = threading.Thread(target=kill_the_jvm_while_it_writes, args=(psutil.Process(run.pid), home / "lake", killed, stop))
    watcher.start()
    try:
        stdout, stderr = run.communicate(timeout=300)
    finally:
        stop.set()
        watcher.join()

    assert killed, "no Spark JVM was started"
    assert run.returncode == 1
    failures = json.loads(stdout.strip().splitlines()[-1])["failures"]
    expected = (f"the Spark driver (JVM, pid {killed[0]}) was killed by signal 9, most often for lack of "
                "memory; give it more with GROSS_PROFIT_SPARK_CONF=spark.driver.memory=<size> (now 2g) "
                "and run the months again; months without a report: 2023-01, 2023-02")
    assert expected in failures, failures
    assert "[1/2] 2023-01: FAILED" in stderr
    assert "[2/2]" not in stderr and "summary:" not in stderr, stderr[-2000:]
