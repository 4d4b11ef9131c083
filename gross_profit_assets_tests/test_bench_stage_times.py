"""The benchmarks' stage times read a real Spark event log and a real Dagster run's steps."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg

from benchmarks.stage_times import Action, breakdown, dagster_steps, event_log_conf, markdown, spark_actions


def test_spark_actions_are_labelled_by_what_they_write_and_where_they_were_asked_for(tmp_path: Path) -> None:
    logs, out = tmp_path / "events", tmp_path / "out"
    conf = event_log_conf(logs)
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(f"""
        from pyspark.sql import SparkSession
        builder = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
        for key, value in {conf!r}.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        frame = spark.range(1000).selectExpr("id", "id % 7 AS k")
        frame.write.parquet({str(out / "numbers")!r})
        rows = frame.groupBy("k").count().collect()
        spark.stop()
    """))
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True,
                   env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}, timeout=120)

    actions = spark_actions(logs, out)

    labels = [a.label for a in actions]
    assert labels[0] == "write Parquet numbers"
    # The script is outside the repository: its call site is Spark's own description.
    assert labels[1].startswith("collect at ") and labels[1].endswith("job.py:9")
    assert all(a.seconds >= 0 for a in actions) and actions[0].start <= actions[1].start


def test_steps_come_from_the_dagster_run_and_actions_land_in_the_step_that_ran_them(tmp_path: Path) -> None:
    @dg.asset
    def first() -> int:
        return 1

    @dg.asset
    def second(first: int) -> int:
        return first + 1

    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert dg.materialize([first, second], instance=instance).success

    steps = dagster_steps(home)

    assert [s.key for s in steps] == ["first", "second"]
    assert steps[0].start + steps[0].seconds <= steps[1].start
    inside = Action("write Parquet lake/x", steps[1].start, 0.0)
    profile = breakdown(steps[1].start + steps[1].seconds - steps[0].start + 1.0, [inside], steps)
    assert [len(s["actions"]) for s in profile["steps"]] == [0, 1]
    assert profile["outside_steps_seconds"] >= 1.0
    assert "| | write Parquet lake/x | 0.0 |" not in markdown("1K", {"a": profile})  # under 0.5 s: not listed
    assert "**second**" in markdown("1K", {"a": profile})
