"""Run the real ``dagster dev`` for tests, and stop it without leaving a process behind.

    with DagsterDev() as dev:                      # fresh GROSS_PROFIT_HOME and DAGSTER_HOME
        data = dev.graphql("{ version }")          # the ``data`` of the answer
        dev.restart()                              # same homes, new port
    # here every process dagster dev started is gone, or DagsterDevError was raised

``dagster dev -w <repo>/workspace.yaml`` runs in its own session and process group
(``start_new_session=True``), with its output in ``<base>/dagster-dev.log``. It forks a code
server manager, the code server, the webserver and the daemon; all of them stay in that group.

Stopping sends SIGTERM to the group (and, once, to any process that appears afterwards: the
daemon may still spawn a code server while shutting down), waits up to ``stop_timeout`` seconds,
then sends SIGKILL.
``dagster dev`` maps SIGTERM to its SIGINT handler; a process that inherited an *ignored* SIGINT
(what a shell does to ``cmd &``) would therefore ignore SIGTERM too. So the command is started
through a two-line trampoline that restores SIGINT's default before ``exec``; the PID, process
group and command line are those of ``dagster dev`` itself.

Processes are found by reading ``/proc`` (no psutil): every process whose process group or
session is ``dagster dev``'s, plus every process whose environment carries this instance's
unique marker variable, which catches a child that would have escaped with its own session.
Zombies are dead already and do not count as left over.
"""

from __future__ import annotations

import atexit
import json
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKSPACE_YAML = REPO_ROOT / "workspace.yaml"
DAGSTER_EXECUTABLE = REPO_ROOT / ".venv" / "bin" / "dagster"
LOCATION_NAME = "gross_profit"
#: The repository name Dagster gives a ``Definitions`` object.
REPOSITORY_NAME = "__repository__"
#: Set in the environment of ``dagster dev``; every descendant inherits it.
MARKER_ENV_VAR = "GROSS_PROFIT_TEST_DAGSTER_DEV"

DAGSTER_YAML = "# Dagster instance of a gross-profit test run of `dagster dev`.\ntelemetry:\n  enabled: false\n"

# Exec the rest of argv with SIGINT at its default disposition (see the module docstring).
_TRAMPOLINE = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"

WORKSPACE_QUERY = """
query GrossProfitTestWorkspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message stack }
  }
}
"""


class DagsterDevError(RuntimeError):
    """``dagster dev`` did not start, did not load the code location, or left processes behind."""


class GraphQLError(DagsterDevError):
    """The GraphQL answer carried ``errors`` (or was not GraphQL at all)."""

    def __init__(self, message: str, errors: list | None = None, data: Any = None):
        super().__init__(message)
        self.errors = errors or []
        self.data = data


@dataclass(frozen=True)
class ProcessInfo:
    """One process of a ``dagster dev`` instance, as ``/proc`` shows it."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    cmdline: str

    @property
    def is_zombie(self) -> bool:
        return self.state in ("Z", "X")

    def __str__(self) -> str:
        return f"pid={self.pid} ppid={self.ppid} pgid={self.pgid} sid={self.sid} state={self.state} {self.cmdline[:160]}"


@dataclass(frozen=True)
class StopReport:
    """How the last stop went."""

    seconds: float
    forced: bool  # SIGKILL was needed
    returncode: int | None  # of ``dagster dev`` itself
    pids: tuple[int, ...]  # every live process seen just before SIGTERM


def _read_process(pid: int) -> ProcessInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name in parentheses may hold spaces or parentheses; fields follow the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    return ProcessInfo(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        state=fields[0],
        cmdline=cmdline.replace(b"\0", b" ").decode(errors="replace").strip(),
    )


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False


def find_processes(pgid: int, marker: str | None = None, *, include_zombies: bool = False) -> list[ProcessInfo]:
    """Processes in process group or session ``pgid``, or carrying ``MARKER_ENV_VAR=marker``."""
    marker_entry = f"{MARKER_ENV_VAR}={marker}".encode() if marker else None
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        info = _read_process(int(entry))
        if info is None or (info.is_zombie and not include_zombies):
            continue
        if pgid in (info.pgid, info.sid) or (marker_entry and _has_marker(info.pid, marker_entry)):
            found.append(info)
    return sorted(found, key=lambda p: p.pid)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class DagsterDev:
    """A ``dagster dev`` of this repository's ``workspace.yaml`` for one test (or module).

    ``base_dir``: where the homes and the log go (e.g. pytest's ``tmp_path``); by default a new
    temporary directory, removed on exit unless ``keep_files``. ``gross_profit_home`` and
    ``dagster_home`` default to ``<base>/gross_profit_home`` and ``<base>/dagster_home``.
    ``env``: extra environment over ``os.environ`` (the homes and the marker always win).
    """

    def __init__(
        self,
        *,
        base_dir: str | os.PathLike | None = None,
        gross_profit_home: str | os.PathLike | None = None,
        dagster_home: str | os.PathLike | None = None,
        env: Mapping[str, str] | None = None,
        workspace: str | os.PathLike = WORKSPACE_YAML,
        location_name: str = LOCATION_NAME,
        host: str = "127.0.0.1",
        cwd: str | os.PathLike = REPO_ROOT,
        startup_timeout: float = 120.0,
        stop_timeout: float = 20.0,
        keep_files: bool = False,
    ):
        self._owns_base = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="gross-profit-dagster-dev-")).resolve()
        self.gross_profit_home = Path(gross_profit_home or self.base_dir / "gross_profit_home").resolve()
        self.dagster_home = Path(dagster_home or self.base_dir / "dagster_home").resolve()
        self.log_path = self.base_dir / "dagster-dev.log"
        self.workspace = Path(workspace).resolve()
        self.location_name = location_name
        self.host = host
        self.cwd = Path(cwd)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.keep_files = keep_files
        self.marker = uuid.uuid4().hex
        self.extra_env = dict(env or {})
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        self.last_stop: StopReport | None = None
        self._log_file = None
        self._atexit_registered = False

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise DagsterDevError("dagster dev is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
            "GROSS_PROFIT_HOME": str(self.gross_profit_home),
            "DAGSTER_HOME": str(self.dagster_home),
            MARKER_ENV_VAR: self.marker,
        }

    def command(self) -> list[str]:
        return [
            sys.executable, "-c", _TRAMPOLINE,
            str(DAGSTER_EXECUTABLE), "dev", "-w", str(self.workspace),
            "-h", self.host, "-p", str(self.port),
        ]  # fmt: skip

    def start(self) -> "DagsterDev":
        if self.process is not None:
            raise DagsterDevError(f"dagster dev already started (pid {self.process.pid}); stop() first")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.gross_profit_home.mkdir(parents=True, exist_ok=True)
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():
            dagster_yaml.write_text(DAGSTER_YAML)
        self.port = free_port(self.host)
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"\n=== {time.strftime('%H:%M:%S')} start: {' '.join(self.command()[3:])}\n".encode())
        self._log_file.flush()
        started = time.monotonic()
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not self._atexit_registered:
            atexit.register(self._kill_at_exit)
            self._atexit_registered = True
        try:
            self._wait_until_loaded(started + self.startup_timeout)
        except BaseException:
            try:
                self.stop()
            except DagsterDevError:
                pass  # the startup failure is the news; stop() already killed what it found
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> StopReport | None:
        """SIGTERM to the process group, SIGKILL after ``stop_timeout`` s; raises
        ``DagsterDevError`` if any process of this instance is still alive afterwards."""
        if self.process is None:
            return None
        pgid = self.process.pid
        started = time.monotonic()
        seen = find_processes(pgid, self.marker)
        forced = False
        self._signal_group(pgid, signal.SIGTERM)
        if not self._wait_gone(pgid, started + self.stop_timeout, terminated={p.pid for p in seen}):
            forced = True
            self._log_note(f"still running {self.stop_timeout:.0f} s after SIGTERM, sending SIGKILL")
            self._signal_group(pgid, signal.SIGKILL)
            for straggler in find_processes(pgid, self.marker):
                self._signal_pid(straggler.pid, signal.SIGKILL)
            self._wait_gone(pgid, time.monotonic() + 10)
        with contextlib.suppress(subprocess.TimeoutExpired):  # judged by the process scan below
            self.process.wait(timeout=5)
        left = find_processes(pgid, self.marker)
        for straggler in left:  # escaped the group: do not leak it, but do report it
            self._signal_pid(straggler.pid, signal.SIGKILL)
        self.last_stop = StopReport(
            seconds=time.monotonic() - started,
            forced=forced,
            returncode=self.process.returncode,
            pids=tuple(p.pid for p in seen),
        )
        self._log_note(f"stopped in {self.last_stop.seconds:.1f} s, forced={forced}, rc={self.process.returncode}")
        self.process = None
        self.port = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        if left:
            raise DagsterDevError(
                "processes of dagster dev still alive after stop (killed now):\n"
                + "\n".join(f"  {p}" for p in left)
            )
        return self.last_stop

    def restart(self) -> "DagsterDev":
        """Stop, then start again with the same homes (a new port: see ``url``)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if self._owns_base and not self.keep_files:
                shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "DagsterDev":
        if self.process is None:
            try:
                self.start()
            except BaseException:
                self.close()  # __exit__ will not run: clean up the temporary files here
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- inspection ---------------------------------------------------------------------

    def processes(self) -> list[ProcessInfo]:
        """The live processes of this instance (empty once stopped)."""
        if self.process is None:
            return []
        return find_processes(self.process.pid, self.marker)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, *, timeout: float = 30.0) -> dict:
        """POST to ``/graphql``; returns the answer's ``data``, raises ``GraphQLError`` on ``errors``."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:  # invalid queries come back as 400 with errors
            raw = error.read()
            if not raw:
                raise GraphQLError(f"HTTP {error.code} from {self.url}/graphql") from error
        try:
            answer = json.loads(raw)
        except json.JSONDecodeError as error:
            raise GraphQLError(f"not JSON from {self.url}/graphql: {raw[:500]!r}") from error
        if answer.get("errors"):
            messages = "; ".join(e.get("message", str(e)) for e in answer["errors"])
            raise GraphQLError(f"GraphQL errors: {messages}", answer["errors"], answer.get("data"))
        return answer["data"]

    # --- internals ----------------------------------------------------------------------

    def _wait_until_loaded(self, deadline: float) -> None:
        phase = "waiting for /server_info"
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self._startup_error(f"dagster dev exited with code {self.process.returncode} ({phase})")
            try:
                if phase.startswith("waiting for /server_info"):
                    with urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as response:
                        json.loads(response.read())
                    phase = f"waiting for code location {self.location_name!r} to load"
                    continue
                status, error = self._location_status()
                if error:
                    raise self._startup_error(f"code location {self.location_name!r} failed to load:\n{error}")
                if status == "LOADED":
                    return
                last = f"loadStatus={status}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError, GraphQLError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
        raise self._startup_error(f"not ready after {self.startup_timeout:.0f} s ({phase}; last: {last})")

    def _location_status(self) -> tuple[str | None, str | None]:
        workspace = self.graphql(WORKSPACE_QUERY, timeout=10)["workspaceOrError"]
        if workspace["__typename"] != "Workspace":
            return None, workspace.get("message")
        for entry in workspace["locationEntries"]:
            if entry["name"] == self.location_name:
                loaded = entry.get("locationOrLoadError") or {}
                if loaded.get("__typename") == "PythonError":
                    return entry["loadStatus"], f"{loaded.get('message')}\n{loaded.get('stack')}"
                if entry["loadStatus"] == "LOADED" and loaded.get("__typename") != "RepositoryLocation":
                    return "LOADING", None  # loaded status before the location itself: wait
                return entry["loadStatus"], None
        return None, None

    def _startup_error(self, message: str) -> DagsterDevError:
        return DagsterDevError(f"{message}\n--- tail of {self.log_path} ---\n{self.log_tail()}")

    def _wait_gone(self, pgid: int, deadline: float, terminated: set[int] | None = None) -> bool:
        while True:
            self.process.poll()  # reap dagster dev itself as soon as it exits
            alive = find_processes(pgid, self.marker)
            if not alive:
                return True
            if terminated is not None:
                # A process started after the SIGTERM (the daemon can still spawn a code server
                # while shutting down) missed it: send it its own, once.
                for late in alive:
                    if late.pid not in terminated:
                        terminated.add(late.pid)
                        self._signal_pid(late.pid, signal.SIGTERM)
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
            os.killpg(pgid, sig)

    @staticmethod
    def _signal_pid(pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
            os.kill(pid, sig)

    def _log_note(self, note: str) -> None:
        if self._log_file and not self._log_file.closed:
            self._log_file.write(f"=== {time.strftime('%H:%M:%S')} {note}\n".encode())
            self._log_file.flush()

    def _kill_at_exit(self) -> None:
        # Last resort if a test process dies without stop(): never leave a dagster dev behind.
        if self.process is not None:
            pgid = self.process.pid
            self._signal_group(pgid, signal.SIGKILL)
            for straggler in find_processes(pgid, self.marker):
                self._signal_pid(straggler.pid, signal.SIGKILL)
