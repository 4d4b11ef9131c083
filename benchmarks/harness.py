"""The benchmark harness: one run times every lane on the same generated data.

Lanes (issue 7):

- ``a``: the platform's whole ``gross-profit run`` on the local deployment (Spark), after
  ``gross-profit ingest`` of every file (timed on its own: it is the users' upload);
- ``b``: a bare single PySpark script doing the report's core work (``bare_spark.py``);
- ``c``: the same report in hand-written DuckDB SQL (``duckdb_sql.py``);
- ``d``: the platform on the DuckDB lane (``GROSS_PROFIT_ENGINE=duckdb``);
- ``e`` and ``f``: the scripts of ``b`` and ``c`` with ``--staged``: the same bare work plus
  the one thing the design adds to it, the governed Parquet table written between the stages
  and read back for the report. e/b and f/c are what that boundary alone costs on top of the
  bare work, before anything the platform checks or keeps.

The fixed cost: before the sized runs, every lane runs once on a small data set over the same
12 months (``--fixed-lines``, 1,200 lines by default). What a lane takes there is what it takes whatever the size
(process and JVM start, Dagster's runs and events, each Spark job's scheduling), so a sized
run's time less it is the work that grows with the lines. The floor ratios put the two
together: the staged script plus the platform's fixed cost beyond the script's, over the bare
lane, ``(e + fixed a - fixed b) / b`` and ``(f + fixed d - fixed c) / c``: the ratio the
platform as built would show if its per-line work were no more than the staged scripts'.
The fixed-cost run also times ``dagster_floor.py``: the platform's asset graph and checks run
by Dagster as ``gross-profit run`` runs them, with no work in them. ``(e + that) / b`` and
``(f + that) / c`` are the least any implementation of the design run by Dagster can show:
its run does at least the staged script's work and Dagster's own.

Every lane must arrive at the same totals (lines in, reported, quarantined, revenue, COGS,
gross profit) and at the generator's count of lines to quarantine; a lane that does not gets
no time in the results, and the harness exits non-zero. Incremental cost: after lane a (and
d) processed the 12 months, a 13th month is landed and ``run --month`` timed, against the same
month run alone in a fresh deployment.

Data is generated once per size under ``benchmarks/data/`` (gitignored) and reused.
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.measure import Measurement, measure

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
DATA = Path(os.environ.get("BENCH_DATA_DIR") or ROOT / "data")  # generated data and work dirs
RESULTS = ROOT / "results"
PYTHON = sys.executable
MONTHS = 12
START_MONTH = "2023-01"
EXTRA_MONTH = "2024-01"  # the 13th month of the incremental measurement
TOTAL_KEYS = ("lines_in", "lines_reported", "lines_quarantined", "revenue_usd", "cogs_usd", "gross_profit_usd")
LANES = {
    "a": "platform, Spark (local deployment)",
    "b": "bare PySpark script",
    "c": "hand-written DuckDB SQL",
    "d": "platform, DuckDB lane",
    "e": "bare PySpark script, governed Parquet between stages",
    "f": "hand-written DuckDB SQL, governed Parquet between stages",
}
PLATFORM_ENGINE = {"a": "spark", "d": "duckdb"}
SCRIPTS = {  # script lanes: the script and its arguments
    "b": ("bare_spark.py",),
    "c": ("duckdb_sql.py",),
    "e": ("bare_spark.py", "--staged"),
    "f": ("duckdb_sql.py", "--staged"),
}
FIXED_LINES = 1_200  # the fixed-cost run's size: 100 lines a month
DAGSTER_ALONE = "dagster"  # the fixed-cost run's entry for dagster_floor.py


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KkMm]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 250K, 1M or 5M")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


def size_label(lines: int) -> str:
    if lines % 1_000_000 == 0:
        return f"{lines // 1_000_000}M"
    if lines % 1_000 == 0:
        return f"{lines // 1_000}K"
    return str(lines)


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- data ------------------------------------------------------------------------------------


def generated(lines: int, months: int, start_month: str, seed: int, name: str) -> dict:
    """The generated data set (cached): its directory, files and what it must add up to."""
    out = DATA / "generated" / name
    manifest = out / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text())
    from gross_profit_assets.generate import generate

    progress(f"generating {lines:,} lines over {months} month(s) in {out}")
    shutil.rmtree(out, ignore_errors=True)
    data = generate(out, lines, months, start_month=start_month, seed=seed)
    info = {
        "dir": str(out),
        "files": [str(f) for f in data.files],
        "lines": data.rows["billing"],
        "months": data.months,
        "lines_quarantined": data.lines_quarantined,
        "bytes": sum(Path(f).stat().st_size for f in data.files),
        "seconds": round(data.seconds, 1),
    }
    manifest.write_text(json.dumps(info, indent=1))
    return info


# --- lanes -----------------------------------------------------------------------------------


def lane_env(engine: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "GROSS_PROFIT_HOME")}
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env["PYTHONPATH"] = str(REPO)
    if engine:
        env["GROSS_PROFIT_ENGINE"] = engine
    return env


def cli(home: Path, *args: str) -> list[str]:
    return [PYTHON, "-m", "gross_profit_assets.cli", "--home", str(home), *args]


def last_json(measurement: Measurement) -> dict:
    lines = measurement.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def step_seconds(stderr: str) -> dict:
    """Month runs' and the summary's times from the CLI's progress lines."""
    months = [float(s) for s in re.findall(r"^\[\d+/\d+\] [^:]+: done in ([\d.]+)s", stderr, re.MULTILINE)]
    summary = re.findall(r"^summary: done in ([\d.]+)s", stderr, re.MULTILINE)
    return {"month_runs": months, "summary": float(summary[-1]) if summary else None}


def record(measurement: Measurement, lines: int, totals: dict | None) -> dict:
    entry = {
        "seconds": round(measurement.seconds, 2),
        "lines_per_second": round(lines / measurement.seconds) if measurement.seconds else None,
        "peak_rss_bytes": measurement.peak_rss_bytes,
        "peak_rss_gb": round(measurement.peak_rss_bytes / 2**30, 2),
        "peak_pss_bytes": measurement.peak_pss_bytes,
        "peak_pss_gb": round(measurement.peak_pss_bytes / 2**30, 2),
        "load_average_before": round(measurement.load_before, 2),
        "load_average_after": round(measurement.load_after, 2),
    }
    if totals is not None:
        entry["totals"] = {k: totals.get(k) for k in TOTAL_KEYS}
    return entry


def measure_ok(command: list[str], env: dict):
    """``measure`` a CLI command that must succeed: a failed one stops the lane with its output."""
    measured = measure(command, env=env)
    if not measured.ok:
        raise RuntimeError(measured.failure())
    return measured


def run_platform(lane: str, data: dict, work: Path) -> dict:
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    env = lane_env(PLATFORM_ENGINE[lane])
    progress(f"lane {lane}: ingest {len(data['files'])} files")
    ingest = measure_ok(cli(home, "ingest", *data["files"]), env)
    progress(f"lane {lane}: run")
    run = measure_ok(cli(home, "run", "--json"), env)
    result = last_json(run)
    entry = record(run, data["lines"], result)
    entry["ingest"] = record(ingest, data["lines"], None)
    entry["steps"] = step_seconds(run.stderr)
    entry["home"] = str(home)
    return entry


def run_script(lane: str, data: dict, work: Path) -> dict:
    script, *arguments = SCRIPTS[lane]
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    progress(f"lane {lane}: {' '.join(SCRIPTS[lane])}")
    run = measure([PYTHON, str(ROOT / script), data["dir"], str(out), *arguments], env=lane_env())
    if not run.ok:
        raise RuntimeError(run.failure())
    entry = record(run, data["lines"], last_json(run))
    shutil.rmtree(out, ignore_errors=True)
    return entry


def run_incremental(lane: str, home: Path, extra: dict, work: Path) -> dict:
    """The 13th month on top of 12 processed ones, against the same month alone."""
    env = lane_env(PLATFORM_ENGINE[lane])
    month = extra["months"][0]
    progress(f"lane {lane}: incremental: land {month} on top of 12 months, run --month {month}")
    measure_ok(cli(home, "ingest", *extra["files"]), env)
    on_top = measure_ok(cli(home, "run", "--month", month, "--json"), env)
    alone_home = work / "alone"
    shutil.rmtree(alone_home, ignore_errors=True)
    progress(f"lane {lane}: incremental: {month} alone in a fresh deployment")
    measure_ok(cli(alone_home, "ingest", *extra["files"]), env)
    alone = measure_ok(cli(alone_home, "run", "--month", month, "--json"), env)
    shutil.rmtree(alone_home, ignore_errors=True)
    totals_on_top, totals_alone = last_json(on_top), last_json(alone)
    same = all(totals_on_top.get(k) == totals_alone.get(k) for k in TOTAL_KEYS)
    return {
        "month": month,
        "lines": extra["lines"],
        "thirteenth_month": record(on_top, extra["lines"], totals_on_top) | {"steps": step_seconds(on_top.stderr)},
        "month_alone": record(alone, extra["lines"], totals_alone) | {"steps": step_seconds(alone.stderr)},
        "ratio": round(on_top.seconds / alone.seconds, 3) if same else None,
        "same_totals": same,
    }


# --- checking and reporting ------------------------------------------------------------------


def check_totals(lanes: dict, data: dict) -> list[str]:
    """Every lane must agree with every other and with what the generator planted."""
    problems = []
    expected = {"lines_in": data["lines"], "lines_quarantined": data["lines_quarantined"]}
    reference = None
    for name, entry in lanes.items():
        totals = entry.get("totals") or {}
        for key, value in expected.items():
            if totals.get(key) != value:
                problems.append(f"lane {name}: {key} = {totals.get(key)}, generator says {value}")
        if reference is None:
            reference = (name, totals)
        elif any(str(totals.get(k)) != str(reference[1].get(k)) for k in TOTAL_KEYS):
            problems.append(f"lane {name} totals {totals} differ from lane {reference[0]} {reference[1]}")
    return problems


def ratio(lanes: dict, top: str, bottom: str) -> float | None:
    if top in lanes and bottom in lanes and lanes[top].get("seconds") and lanes[bottom].get("seconds"):
        return round(lanes[top]["seconds"] / lanes[bottom]["seconds"], 3)
    return None


def floor_ratio(lanes: dict, fixed: dict, staged: str, bare: str, added: str, taken: str | None = None) -> float | None:
    """``(staged + fixed[added] - fixed[taken]) / bare``, seconds of this run (``taken``: none
    when not given): see the module's docstring."""
    terms = [(lanes, staged), (fixed, added), *([(fixed, taken)] if taken else []), (lanes, bare)]
    seconds = [(d.get(x) or {}).get("seconds") for d, x in terms]
    if not all(seconds):
        return None
    staged_s, added_s, *taken_s, bare_s = seconds
    return round((staged_s + added_s - sum(taken_s)) / bare_s, 3)


def ratios(lanes: dict, fixed: dict) -> dict:
    return {
        "a/b": ratio(lanes, "a", "b"),
        "d/c": ratio(lanes, "d", "c"),
        "e/b": ratio(lanes, "e", "b"),
        "f/c": ratio(lanes, "f", "c"),
        "floor a/b": floor_ratio(lanes, fixed, "e", "b", added="a", taken="b"),
        "floor d/c": floor_ratio(lanes, fixed, "f", "c", added="d", taken="c"),
        "dagster floor a/b": floor_ratio(lanes, fixed, "e", "b", added=DAGSTER_ALONE),
        "dagster floor d/c": floor_ratio(lanes, fixed, "f", "c", added=DAGSTER_ALONE),
    }


def machine() -> dict:
    import psutil

    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def git_commit() -> str:
    if os.environ.get("BENCH_COMMIT"):  # a snapshot outside the repository says what it is
        return os.environ["BENCH_COMMIT"]
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           capture_output=True, text=True, check=False).stdout.strip()
    return done.stdout.strip() + ("+changes" if dirty else "")


def gb(entry: dict | None, measure: str = "pss") -> str:
    """Peak memory in GB by ``measure`` (pss or rss); runs measured before PSS have none."""
    value = (entry or {}).get(f"peak_{measure}_gb")
    return f"{value:.2f}" if value is not None else "–"


def write_markdown() -> Path:
    """RESULTS.md from every results JSON, smallest size first."""
    runs = []
    for path in RESULTS.glob("*.json"):
        run = json.loads(path.read_text())
        label = run["size"]
        if path.name.endswith(".partial.json"):
            if (RESULTS / f"{run.get('name', label)}.json").exists():
                continue  # the finished run of that size supersedes it
            # A run cut short: the lanes it measured, checked against each other here.
            totals = [tuple(str(e["totals"].get(k)) for k in TOTAL_KEYS) for e in run["lanes"].values()]
            run |= {"size": f"{label} (partial: lanes {', '.join(run['lanes'])})",
                    "totals_agree": len(set(totals)) <= 1, "incremental": {}, "started_at": "",
                    "ratios": ratios(run["lanes"], run.get("fixed", {}))}
        elif run.get("name", label) != label:
            run |= {"size": f"{label} (lanes {', '.join(run['lanes'])})"}
        runs.append(run)
    runs.sort(key=lambda r: r["lines"])
    out = ["# Benchmark results", "",
           ("Written by `make bench` (`benchmarks/harness.py`) from the JSON files beside it; each row "
            "is one harness run on this project's 2-core, 24 GB machine (a run of only some lanes is "
            "marked so, and its ratios are those of its own lanes), all lanes of a run on "
            "the same generated data (12 months, USD/CAD/MXN, ~2% of lines to quarantine). Peak memory is "
            "the lane's whole process tree (Python, Spark JVM, workers) at its peak: PSS, the physical "
            "memory it holds (shared pages counted once), and the sum of RSS, which counts shared pages "
            "once per process and so errs high (see `benchmarks/measure.py`; runs measured before PSS "
            "have RSS only). "
            "Load avg is the 1-minute load average as the lane started: above 2, other processes were "
            "sharing the two cores, and wall times stretch with it (ratios compare lanes that ran one "
            "after the other, so they carry that noise too)."),
           "", "| size | lane | wall s | lines/s | peak PSS GB | peak RSS sum GB | load avg | totals |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for run in runs:
        for lane, entry in run["lanes"].items():
            out.append(
                f"| {run['size']} | {lane}: {LANES[lane]} | {entry['seconds']:.1f} | {entry['lines_per_second']:,} | "
                f"{gb(entry)} | {gb(entry, 'rss')} | {entry['load_average_before']:.1f} | "
                f"{'agree' if run['totals_agree'] else 'WRONG (no time reported)'} |"
            )
    out += ["", "| size | a/b | d/c | ingest (a) s | 13th month on 12 (a) s | same month alone (a) s | incremental a | incremental d | commit | date |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for run in runs:
        inc = run.get("incremental", {})
        ia, id_ = inc.get("a"), inc.get("d")
        ingest = run["lanes"].get("a", {}).get("ingest", {}).get("seconds")
        out.append(
            f"| {run['size']} | {run['ratios'].get('a/b') or '–'} | {run['ratios'].get('d/c') or '–'} | "
            f"{ingest or '–'} | {ia['thirteenth_month']['seconds'] if ia else '–'} | "
            f"{ia['month_alone']['seconds'] if ia else '–'} | {ia['ratio'] if ia else '–'} | "
            f"{id_['ratio'] if id_ else '–'} | {run['commit']} | {run['started_at'][:10]} |"
        )
    out += ["", ("What the design allows: e/b and f/c price the governed Parquet table between the stages "
                 "alone (lanes e and f are the bare scripts plus that boundary); the fixed cost is each lane "
                 "run on a small data set (1,200 lines by default) over the same 12 months in the same "
                 "harness run; the floor ratios are "
                 "(e + fixed a - fixed b) / b and (f + fixed d - fixed c) / c, the ratio the platform as built "
                 "would show if its per-line work were no more than the staged scripts'; Dagster alone is "
                 "`benchmarks/dagster_floor.py`, the platform's asset graph and checks with no work in them, "
                 "and the Dagster floors, (e + Dagster alone) / b and (f + Dagster alone) / c, are the least "
                 "any Dagster-run implementation of the design can show (see the harness's docstring). Runs "
                 "before the fixed cost was measured show none."),
            "", ("| size | fixed a s | fixed b s | fixed c s | fixed d s | Dagster alone s | e/b | f/c | floor a/b | "
                 "floor d/c | Dagster floor a/b | Dagster floor d/c |"),
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in runs:
        fixed, r = run.get("fixed", {}), run["ratios"]
        cells = [f"{fixed[x]['seconds']:.1f}" if x in fixed else "–" for x in (*"abcd", DAGSTER_ALONE)]
        cells += [str(r.get(k) or "–") for k in ("e/b", "f/c", "floor a/b", "floor d/c", "dagster floor a/b",
                                                  "dagster floor d/c")]
        out.append(f"| {run['size']} | " + " | ".join(cells) + " |")
    out += ["", ("Reproduce: `make bench SIZES=1M,5M` (or `.venv/bin/python -m benchmarks --sizes 1M,5M "
                 f"--lanes {','.join(LANES)}`). Data is generated once per size under `benchmarks/data/` (gitignored)."), ""]
    path = RESULTS / "RESULTS.md"
    path.write_text("\n".join(out))
    return path


def run_name(label: str, lanes: list[str]) -> str:
    """The results file's name: the size, and the lanes when not all of them ran, so a run of
    some lanes does not replace a run of others (each keeps the ratios of its own run)."""
    return label if sorted(lanes) == sorted(LANES) else f"{label}-{''.join(sorted(lanes))}"


def run_lane(lane: str, data: dict, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    if lane in PLATFORM_ENGINE:
        return run_platform(lane, data, work)
    return run_script(lane, data, work)


def remove_homes(results: dict) -> None:
    """The platform lanes' deployments, once nothing more runs in them."""
    for lane in results.values():
        home = lane.pop("home", None)
        if home:
            shutil.rmtree(Path(home).parent, ignore_errors=True)


def fixed_costs(lanes: list[str], lines: int) -> tuple[dict, list[str]]:
    """Every lane once on ``lines`` lines over the sized runs' 12 months: the time a lane takes
    whatever the size. The lanes must agree on the totals here too."""
    label = f"fixed-{size_label(lines)}"
    data = generated(lines, MONTHS, START_MONTH, seed=7, name=label)
    results = {}
    for lane in lanes:
        progress(f"fixed cost: lane {lane} on {lines:,} lines")
        results[lane] = run_lane(lane, data, DATA / "work" / label / lane)
    remove_homes(results)
    problems = [f"fixed cost: {p}" for p in check_totals(results, data)]
    progress("fixed cost: Dagster alone (dagster_floor.py)")
    results[DAGSTER_ALONE] = record(measure_ok([PYTHON, str(ROOT / "dagster_floor.py"), str(DATA / "work" / label / "dagster")],
                                               lane_env()), 0, None)
    shutil.rmtree(DATA / "work" / label, ignore_errors=True)
    return ({} if problems else results), problems


def bench_size(lines: int, lanes: list[str], incremental: bool, fixed: dict) -> tuple[dict, list[str]]:
    label = size_label(lines)
    data = generated(lines, MONTHS, START_MONTH, seed=7, name=label)
    work = DATA / "work" / label
    results: dict[str, dict] = {}
    name = run_name(label, lanes)
    partial = RESULTS / f"{name}.partial.json"  # what is measured so far, should a run be cut short
    for lane in lanes:
        results[lane] = run_lane(lane, data, work / lane)
        progress(f"lane {lane}: {results[lane]['seconds']:.1f}s, peak PSS {gb(results[lane])} GB "
                 f"(RSS sum {gb(results[lane], 'rss')} GB), "
                 f"totals {results[lane].get('totals')}")
        partial.write_text(json.dumps({"size": label, "name": name, "lines": data["lines"], "commit": git_commit(),
                                       "lanes": results}, indent=1) + "\n")
    problems = check_totals(results, data)
    inc: dict[str, dict] = {}
    if incremental and not problems:
        extra = generated(lines // MONTHS, 1, EXTRA_MONTH, seed=13, name=f"{label}-{EXTRA_MONTH}")
        for lane in (x for x in lanes if x in PLATFORM_ENGINE):
            inc[lane] = run_incremental(lane, Path(results[lane]["home"]), extra, work / lane)
            if not inc[lane]["same_totals"]:
                problems.append(f"lane {lane}: the 13th month's totals differ between on-top and alone")
    partial.unlink(missing_ok=True)
    remove_homes(results)
    if problems:
        for entry in results.values():
            entry["seconds"] = entry["lines_per_second"] = None  # no time for a wrong answer
    run = {
        "size": label,
        "name": name,
        "lines": data["lines"],
        "months": len(data["months"]),
        "input_bytes": data["bytes"],
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine(),
        "lanes": results,
        "totals_agree": not problems,
        "problems": problems,
        "ratios": ratios(results, fixed),
        "fixed": fixed,
        "incremental": inc,
    }
    return run, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200K", help="comma-separated line counts, e.g. 1M,5M,20M (default 200K)")
    parser.add_argument("--lanes", default=",".join(LANES), help=f"which of {','.join(LANES)} to run (default all)")
    parser.add_argument("--no-incremental", action="store_true", help="skip the 13th-month measurement")
    parser.add_argument("--fixed-lines", type=parse_size, default=FIXED_LINES,
                        help=f"lines of the fixed-cost run (default {FIXED_LINES:,}); 0 skips it")
    parser.add_argument("--generate-only", action="store_true", help="only generate (and cache) the data")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    lanes = [x.strip() for x in args.lanes.split(",") if x.strip()]
    unknown = [x for x in lanes if x not in LANES]
    if unknown:
        parser.error(f"unknown lanes {unknown}; choose from {sorted(LANES)}")
    if args.generate_only:
        for lines in sizes:
            generated(lines, MONTHS, START_MONTH, seed=7, name=size_label(lines))
            generated(lines // MONTHS, 1, EXTRA_MONTH, seed=13, name=f"{size_label(lines)}-{EXTRA_MONTH}")
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    fixed, problems = fixed_costs(lanes, args.fixed_lines) if args.fixed_lines else ({}, [])
    for problem in problems:
        progress(f"WRONG: {problem}")
    failed = bool(problems)
    for lines in sizes:
        run, problems = bench_size(lines, lanes, not args.no_incremental, fixed)
        path = RESULTS / f"{run['name']}.json"
        path.write_text(json.dumps(run, indent=1) + "\n")
        for problem in problems:
            progress(f"WRONG: {problem}")
        failed |= bool(problems)
        progress(f"{run['size']}: ratios {run['ratios']}; written {path}")
    progress(f"table: {write_markdown()}")
    return 1 if failed else 0
