"""A real Spark standalone cluster on loopback, for tests: one master and a few workers.

Started from the installed pyspark (its ``bin/spark-class`` and jars, no download), each daemon
in its own process group with its log in a file, and stopped by process group: SIGTERM, then
SIGKILL after a timeout. A worker's executors are its children, in its group, so stopping the
groups leaves nothing behind; ``stop`` checks that it does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

LOOPBACK = "127.0.0.1"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


class ClusterError(RuntimeError):
    """The cluster did not come up (or go down) in time; the message points at the logs."""


def spark_home() -> Path:
    """The pip-installed pyspark package is a complete Spark distribution (bin/, jars/)."""
    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it, so parallel runs don't clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def daemon_environment(work_dir: Path) -> dict[str, str]:
    """Bind everything to loopback and keep Spark's scratch and logs out of the virtualenv
    (a worker also gets ``--work-dir``, else it would write under ``$SPARK_HOME/work``)."""
    return os.environ | {
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": LOOPBACK,
        "SPARK_LOG_DIR": str(work_dir),
        "SPARK_LOCAL_DIRS": str(work_dir / "local"),
    }


def start_daemon(name: str, args: list[str], work_dir: Path) -> subprocess.Popen:
    """``spark-class <args>`` in a new session (its own process group), output to ``<name>.log``.
    ``spark-class`` execs the JVM, so the Popen's pid is the daemon's."""
    log_path = work_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=daemon_environment(work_dir),
            start_new_session=True,
        )


def live_group_members(pgid: int) -> list[int]:
    """Processes still in group ``pgid``, zombies excepted (an orphaned executor's zombie waits
    for init to reap it and holds no port, memory or file)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the command name (which may hold spaces): state, ppid, pgrp, ...
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue  # the process exited while we looked
        if int(group) == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def stop_process_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the daemon's whole group (the JVM and any executors it launched), SIGKILL what is
    left after ``timeout``, and fail if anything in the group survives."""
    pgid = process.pid  # start_new_session made the daemon its group's leader
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
        if wait_until(lambda: not live_group_members(pgid), timeout):
            break
    process.poll()
    survivors = live_group_members(pgid)
    if process.returncode is None or survivors:
        raise ClusterError(f"process group {pgid} did not stop: {survivors or [pgid]} still running")


@dataclass
class StandaloneCluster:
    """A running master and its workers; ``master_url`` is what ``spark.master`` takes."""

    work_dir: Path
    master_port: int
    webui_port: int
    master: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://{LOOPBACK}:{self.master_port}"

    @property
    def status_url(self) -> str:
        return f"http://{LOOPBACK}:{self.webui_port}/json/"

    @property
    def processes(self) -> list[subprocess.Popen]:
        return [p for p in (self.master, *self.workers) if p is not None]

    def status(self) -> dict:
        """The master's JSON status: workers, active and completed applications."""
        with urllib.request.urlopen(self.status_url, timeout=10) as response:
            return json.load(response)

    def alive_workers(self) -> int:
        try:
            return sum(worker["state"] == "ALIVE" for worker in self.status()["workers"])
        except (OSError, ValueError, KeyError):
            return 0  # not listening yet

    def logs(self, tail: int = 3000) -> str:
        """The end of every daemon's log, for a failure message."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-tail:]}" for log in sorted(self.work_dir.glob("*.log"))
        )

    def stop(self, timeout: float = 30) -> None:
        """Workers first (they would otherwise keep retrying the master), then the master."""
        problems = []
        for process in reversed(self.processes):
            try:
                stop_process_group(process, timeout)
            except ClusterError as exc:
                problems.append(str(exc))
        if problems:
            raise ClusterError("; ".join(problems))


def start_standalone_cluster(
    work_dir: Path, workers: int = 2, cores: int = 1, memory: str = "1g", timeout: float = 180
) -> StandaloneCluster:
    """A master and ``workers`` workers on 127.0.0.1, returned once the master reports every
    worker ALIVE. Anything started is stopped again if the cluster does not come up."""
    work_dir.mkdir(parents=True, exist_ok=True)
    cluster = StandaloneCluster(work_dir, master_port=free_port(), webui_port=free_port())
    try:
        cluster.master = start_daemon(
            "master",
            [MASTER_CLASS, "--host", LOOPBACK, "--port", str(cluster.master_port), "--webui-port", str(cluster.webui_port)],
            work_dir,
        )
        for index in range(1, workers + 1):
            worker_args = [
                WORKER_CLASS, cluster.master_url, "--host", LOOPBACK, "--cores", str(cores),
                "--memory", memory, "--webui-port", str(free_port()),
                "--work-dir", str(work_dir / f"worker-{index}"),
            ]
            cluster.workers.append(start_daemon(f"worker-{index}", worker_args, work_dir))
        if not wait_until(lambda: cluster.alive_workers() == workers or _any_exited(cluster), timeout):
            raise ClusterError(f"{workers} workers not ALIVE within {timeout:.0f}s")
        if _any_exited(cluster):
            raise ClusterError("a Spark daemon exited while starting")
    except BaseException as exc:
        message = f"{exc}\n{cluster.logs()}"
        try:
            cluster.stop()
        except ClusterError as stop_error:
            message += f"\nstopping what had started failed too: {stop_error}"
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt and the like stay what they are
        raise ClusterError(message) from exc
    return cluster


def _any_exited(cluster: StandaloneCluster) -> bool:
    return any(process.poll() is not None for process in cluster.processes)
