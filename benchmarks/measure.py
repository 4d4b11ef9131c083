"""Run a command and measure it: wall time and peak resident memory of its whole process tree.

The platform's Spark JVM and Python workers are children of the command, so memory is the sum
of the resident set sizes of the command and every descendant, sampled every ``interval``
seconds (psutil). A sum of RSS counts pages shared between processes once per process, so it
errs high, never low.
"""

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Measurement:
    command: list[str]
    seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str
    load_before: float
    load_after: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        return f"{' '.join(self.command)} exited {self.returncode}:\n{self.stderr[-3000:]}"


def tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass  # ended between listing and sampling: it holds no memory any more
    return total


def measure(command: list[str], env: dict | None = None, cwd: str | None = None,
            interval: float = 0.1, timeout: float = 6 * 3600) -> Measurement:
    """Run ``command`` to completion; stdout and stderr go to files so no pipe can fill up."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        tree = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(tree))
            if time.monotonic() - started > timeout:
                proc.kill()
                break
            time.sleep(interval)
        proc.wait()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Measurement(command, seconds, peak, proc.returncode, out.read(), err.read(),
                           load_before, os.getloadavg()[0])
