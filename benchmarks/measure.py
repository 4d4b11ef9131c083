"""Run a command and measure it: wall time and peak resident memory of its whole process tree.

The platform's Spark JVM and Python workers are children of the command, so memory is summed
over the command and every descendant, sampled every ``interval`` seconds (psutil), two ways:

- **PSS** (proportional set size, Linux): each page counted once in total, split between the
  processes that share it. The sum is the physical memory the tree holds; it is the figure the
  results report.
- **RSS**: each process's resident pages, shared ones counted once per process, so the sum errs
  high. It errs a lot here: without Hadoop's native library, Spark's local file system runs
  ``chmod`` for every file it writes, and each of those starts as a copy of the JVM (a forked
  child that shares all of the JVM's pages until it execs), which the RSS sum counts as a second
  JVM. Kept for comparison with runs measured before PSS.
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
    peak_pss_bytes: int
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


def tree_memory(process: psutil.Process, with_pss: bool) -> tuple[int, int]:
    """(summed RSS, summed PSS) of ``process`` and its descendants, in bytes; PSS only when
    ``with_pss`` (0 otherwise): the kernel walks a process's page tables to count it, about
    10 ms for a JVM of a few GB, so it is sampled less often than RSS."""
    rss = pss = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for member in members:
        try:
            if with_pss:
                info = member.memory_full_info()
                rss, pss = rss + info.rss, pss + info.pss
            else:
                rss += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass  # ended between listing and sampling: it holds no memory any more
    return rss, pss


def measure(command: list[str], env: dict | None = None, cwd: str | None = None,
            interval: float = 0.1, pss_every: int = 10, timeout: float = 6 * 3600) -> Measurement:
    """Run ``command`` to completion; stdout and stderr go to files so no pipe can fill up.
    RSS is sampled every ``interval`` seconds, PSS every ``pss_every`` samples (the sampler
    then costs about 1% of a core, not 10-20%; a memory peak lasts longer than a second)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        tree = psutil.Process(proc.pid)
        peak_rss = peak_pss = samples = 0
        while proc.poll() is None:
            rss, pss = tree_memory(tree, with_pss=samples % pss_every == 0)
            samples += 1
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            if time.monotonic() - started > timeout:
                proc.kill()
                break
            time.sleep(interval)
        proc.wait()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Measurement(command, seconds, peak_rss, peak_pss, proc.returncode, out.read(), err.read(),
                           load_before, os.getloadavg()[0])
