"""Where a lane's time goes: lanes (a), (b) and (d) once more, with Spark's event log on, and
lane (a)'s 13th month on top of its 12.

    python -m benchmarks.stage_times --size 5M      # or: make bench-stages SIZE=5M

Not part of the timed harness (the event log costs a little, and the ratios must not carry
it). Each Spark action (an SQL execution: a read-and-join checkpoint, a write, a collect for a
check) is timed from the event log, labelled by what it writes or the source line that asked
for it, and placed in the Dagster step (from the run's event log in the lane's Dagster home)
that ran it. A step's time beyond its Spark actions is Python: plan building over Py4J,
metadata, Dagster's events. Written to ``results/stages/<size>.md`` and ``.json``.
"""

import argparse
import ast
import json
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.harness import (
    DATA,
    EXTRA_MONTH,
    MONTHS,
    REPO,
    RESULTS,
    ROOT,
    START_MONTH,
    cli,
    generated,
    git_commit,
    lane_env,
    measure_ok,
    parse_size,
    progress,
    size_label,
)

# "Arguments: file:<path>, <overwrite?>, [<partition columns>, when partitioned] <format>, ..."
_WRITE = re.compile(r"Execute InsertIntoHadoopFsRelationCommand\s+Input: \[\]\s+Arguments: file:(\S+?), \w+, (?:\[[^\]]*\], )?(\w+),")
_CALL_SITE = re.compile(r"^(\w+) at (\S+?\.py):(\d+)$")
# What a write's path says about the table it fills, staging and part directories left out.
_STAGING = re.compile(r"/(\.staging/[^/]+|\.csv-parts-\w+|[^/]*-\w{32})$")


@dataclass
class Action:
    """One Spark SQL execution."""

    label: str
    start: float  # epoch seconds
    seconds: float


@dataclass
class Step:
    key: str
    start: float
    seconds: float


def _label(event: dict, root: Path) -> str:
    """``write Parquet lake/governed_billing_lines``; or, for an action the project's code
    asked for, ``collect in governed.py governed_dataset(), line 154: quality = ...``; or
    Spark's own description (code outside the repository keeps that too)."""
    if write := _WRITE.search(event.get("physicalPlanDescription", "")):
        path, fmt = write.groups()
        where = Path(_STAGING.sub("", path))
        return f"write {fmt} {where.relative_to(root) if where.is_relative_to(root) else where}"
    description = event.get("description", "")
    if call := _CALL_SITE.match(description):
        action, file, line = call.groups()
        try:
            where, number = Path(file), int(line)
            code = where.read_text().splitlines()[number - 1].strip()
            shown = f": {code[:60]}" if code[:1].isalpha() else ""  # not a continuation line
            name = where.relative_to(REPO).name  # ValueError outside the repository
            return f"{action} in {name} {_function_at(where, number)}(), line {line}{shown}"
        except (OSError, IndexError, SyntaxError, ValueError):
            return description
    action = description.split(" at ")[0]
    return "materialize (local checkpoint)" if action == "localCheckpoint" else action


def _function_at(file: Path, line: int) -> str:
    """The innermost function of ``file`` around ``line``."""
    around = [
        node for node in ast.walk(ast.parse(file.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.lineno <= line <= node.end_lineno
    ]
    return max(around, key=lambda node: node.lineno).name if around else "<module>"


def spark_actions(log_dir: Path, root: Path) -> list[Action]:
    """Every SQL execution in the (uncompressed) event logs under ``log_dir``."""
    started: dict[tuple[str, int], dict] = {}
    actions = []
    # Spark 4 rolls a log into events_<n>_<app> files; Hadoop's .crc checksums sit beside them.
    for log in sorted(p for p in log_dir.rglob("*") if p.is_file() and not p.name.startswith((".", "appstatus"))):
        for line in log.open(encoding="utf-8"):
            event = json.loads(line)
            kind = event["Event"].rsplit(".", 1)[-1]
            if kind == "SparkListenerSQLExecutionStart":
                started[(log.name, event["executionId"])] = event
                continue
            begun = started.get((log.name, event.get("executionId")))
            # Nested executions (a write's own inner query) have a root that is not them.
            if kind == "SparkListenerSQLExecutionEnd" and begun and begun.get("rootExecutionId") in (
                None, begun["executionId"]
            ):
                actions.append(Action(_label(begun, root), begun["time"] / 1000, (event["time"] - begun["time"]) / 1000))
    return sorted(actions, key=lambda a: a.start)


def dagster_steps(dagster_home: Path) -> list[Step]:
    """Every step of every run in the Dagster instance at ``dagster_home``, in start order."""
    from dagster import DagsterEventType, DagsterInstance

    ends = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    steps = []
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        for run in instance.get_runs():
            begun: dict[str, float] = {}
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is None or not entry.step_key:
                    continue
                if event.event_type == DagsterEventType.STEP_START:
                    begun[entry.step_key] = entry.timestamp
                elif event.event_type in ends and entry.step_key in begun:
                    start = begun.pop(entry.step_key)
                    steps.append(Step(entry.step_key, start, entry.timestamp - start))
    return sorted(steps, key=lambda s: s.start)


def breakdown(wall: float, actions: list[Action], steps: list[Step] | None = None) -> dict:
    """The lane's wall time split into its steps (or one step, the script), each into its
    Spark actions and the rest."""
    if not steps:  # a script: its actions, one after the other
        steps = [Step("script's Spark actions", actions[0].start if actions else 0.0, sum(a.seconds for a in actions))]
    rows = []
    for step in steps:
        inside = [a for a in actions if step.start <= a.start <= step.start + step.seconds]
        spark = sum(a.seconds for a in inside)
        rows.append({"step": step.key, "seconds": round(step.seconds, 1), "spark_seconds": round(spark, 1),
                     "actions": [asdict(a) | {"seconds": round(a.seconds, 1)} for a in inside]})
    return {"seconds": round(wall, 1), "outside_steps_seconds": round(wall - sum(s.seconds for s in steps), 1),
            "steps": rows}


def event_log_conf(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return {"spark.eventLog.enabled": "true", "spark.eventLog.dir": directory.as_uri(),
            "spark.eventLog.compress": "false"}


def platform_run(home: Path, logs: Path | None, *args: str) -> dict:
    """``gross-profit run ARGS`` broken down into its steps (those of the Dagster runs it
    started): on Spark with its event log in ``logs``, on the DuckDB lane when ``logs`` is None
    (steps only: DuckDB keeps no log of its queries)."""
    env = lane_env("spark" if logs else "duckdb")
    if logs:
        env["GROSS_PROFIT_SPARK_CONF"] = ",".join(f"{k}={v}" for k, v in event_log_conf(logs).items())
    started = time.time()
    run = measure_ok(cli(home, "run", "--json", *args), env)
    steps = [s for s in dagster_steps(home / "dagster_home") if s.start >= started]
    return breakdown(run.seconds, spark_actions(logs, home) if logs else [], steps)


def profile_platform(data: dict, extra: dict, work: Path) -> dict[str, dict]:
    """Lane (a) over the 12 months, then the 13th month landed on top of them; lane (d) over
    the 12 months."""
    shutil.rmtree(work, ignore_errors=True)
    progress(f"lane a: ingest {len(data['files'])} files")
    measure_ok(cli(work / "home", "ingest", *data["files"]), lane_env("spark"))
    progress("lane a: run, with Spark's event log")
    months = platform_run(work / "home", work / "spark-events")
    month = extra["months"][0]
    progress(f"lane a: land {month} on top, run --month {month}")
    measure_ok(cli(work / "home", "ingest", *extra["files"]), lane_env("spark"))
    thirteenth = platform_run(work / "home", work / "spark-events-13th", "--month", month)
    progress("lane d: ingest and run")
    measure_ok(cli(work / "home-d", "ingest", *data["files"]), lane_env("duckdb"))
    duckdb_months = platform_run(work / "home-d", None)
    return {"lane a: 12 months": months, f"lane a: {month} on top of the 12": thirteenth,
            "lane d: 12 months (steps only)": duckdb_months}


def profile_bare(data: dict, work: Path) -> dict:
    out, logs = work / "out", work / "spark-events"
    for path in (out, logs):
        shutil.rmtree(path, ignore_errors=True)
    env = lane_env()
    conf = " ".join(f"--conf {k}={v}" for k, v in event_log_conf(logs).items())
    env["PYSPARK_SUBMIT_ARGS"] = f"{conf} pyspark-shell"
    progress("lane b: bare_spark.py, with Spark's event log")
    run = measure_ok([sys.executable, str(ROOT / "bare_spark.py"), data["dir"], str(out)], env)
    shutil.rmtree(out, ignore_errors=True)
    return breakdown(run.seconds, spark_actions(logs, out))


def markdown(size: str, lanes: dict[str, dict]) -> str:
    out = [f"# Where the time goes: {size} lines, 12 months", "",
           ("Written by `python -m benchmarks.stage_times` (`benchmarks/stage_times.py`): lanes (a), (b) "
            "and (d) run once more (not the harness's timed runs), the Spark lanes with Spark's event log "
            "on, and lane (a)'s 13th month on top of its 12. Each Spark action is timed from the event "
            "log and placed in the Dagster step that ran it; a step's time beyond its actions is Python "
            "(plan building over Py4J, metadata, Dagster's events). The DuckDB lane logs no actions: "
            "its steps are all it shows. The time outside steps is the process starting, loading the "
            "definitions and launching runs (for the bare script: starting, and between its actions)."),
           ""]
    for lane, profile in lanes.items():
        out += [f"## {lane}: {profile['seconds']} s", "", "| step | action | s |", "|---|---|---:|"]
        spark = any(step["actions"] for step in profile["steps"])
        for step in profile["steps"]:
            actions = f", of which Spark actions {step['spark_seconds']} s" if spark else ""
            out.append(f"| **{step['step']}** | **{step['seconds']} s{actions}** | |")
            for action in step["actions"]:
                if action["seconds"] >= 0.5:
                    cell = action["label"].replace("|", r"\|")
                    out.append(f"| | {cell} | {action['seconds']} |")
        out += [f"| outside steps | | {profile['outside_steps_seconds']} |", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stage_times", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1M", help="line count, e.g. 1M or 5M (default 1M)")
    args = parser.parse_args(argv)
    lines = parse_size(args.size)
    label = size_label(lines)
    data = generated(lines, MONTHS, START_MONTH, seed=7, name=label)
    work = DATA / "work" / f"{label}-profile"
    extra = generated(lines // MONTHS, 1, EXTRA_MONTH, seed=13, name=f"{label}-{EXTRA_MONTH}")
    lanes = profile_platform(data, extra, work / "a") | {"lane b: bare PySpark script": profile_bare(data, work / "b")}
    shutil.rmtree(work, ignore_errors=True)
    # Beside the harness's results, not among them (its table reads every results/*.json).
    profiles = RESULTS / "stages"
    profiles.mkdir(parents=True, exist_ok=True)
    (profiles / f"{label}.json").write_text(
        json.dumps({"size": label, "commit": git_commit(), "lanes": lanes}, indent=1) + "\n")
    path = profiles / f"{label}.md"
    path.write_text(markdown(label, lanes))
    progress(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
