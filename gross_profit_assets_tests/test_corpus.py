"""The bad-input corpus: every kind of mess real billing exports contain, run through the real
pipeline, with the outcome each case's ``expected.yaml`` states.

Besides what a case states, every case must show what the platform promises for any input:
lines in = reported + quarantined, the report has the contract's columns and no line with a
number missing, and every reported line's money is what Python's ``decimal`` computes from its
own amount, units, cost and the landed FX rate.

A case's ``expect``:

- ``run_ok``: every run succeeded and no ERROR check failed (``gross-profit run`` exits 0).
- ``lines_in``, ``lines_reported``, ``lines_quarantined``: over every month of the case.
- ``quarantined``: exactly these lines, ``{file, line, reasons}`` (reasons exactly); default none.
- ``rejected_files``: exactly these files, ``{file, error: [fragments]}``; default none. A
  rejected file must still be in the landing zone.
- ``report`` / ``governed``: rows picked by ``file``, ``line`` and/or ``id``; every other key is a
  cell that must read exactly so (the report CSV's text; the governed Parquet value as text).
  The report CSV is the months' own CSVs, or the all-months one when the case says
  ``summary: true``.
- ``checks``: ``{name, asset?, passed, severity?, mentions?}``; every evaluation of that check
  (on that asset) must agree, and there must be at least one.
- ``catalog_columns``: ``{table: [columns the cataloged table must have]}``.
- ``totals``: exact report totals (``revenue_usd``, ``cogs_usd``, ``gross_profit_usd``).
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pytest

from gross_profit_assets.contract import REPORT_COLUMNS
from gross_profit_assets_tests.corpus_runner import (
    CORPUS_DIR,
    Case,
    CasePipeline,
    Outcome,
    Stage,
    corpus_cases,
    load_case,
)

CASES = [case for case in corpus_cases() if case.rerun is None]
SELECTORS = ("file", "line", "id")
NUMBER_COLUMNS = ("units_sold", "cost_per_unit_usd", "bill_amount", "gross_profit", "revenue_usd", "cogs_usd")
CENT = Decimal("0.01")
MARGIN_STEP = Decimal("0.000001")


# --- the checks every case gets -------------------------------------------------------------------


def landing_problems(stage: Stage, outcome: Outcome) -> list[str]:
    """Ingest refuses exactly the files the case says, naming what it says, and lands none of them."""
    expected = {landing.file: landing.error for landing in stage.land if landing.error}
    problems = []
    for name, message in outcome.landing_errors.items():
        if name not in expected:
            problems.append(f"ingest refused {name}: {message}")
    for name, fragments in expected.items():
        message = outcome.landing_errors.get(name)
        if message is None:
            problems.append(f"ingest accepted {name}, expected a LandingError naming {list(fragments)}")
            continue
        problems += [f"ingest error for {name} lacks {f!r}: {message}" for f in fragments if f not in message]
        if any(Path(key).name == name for key in outcome.landed_keys):
            problems.append(f"{name} was refused but is in the landing zone")
    return problems


def count_problems(expect: dict, outcome: Outcome) -> list[str]:
    problems = []
    if outcome.run_ok != expect["run_ok"]:
        problems.append(f"run_ok is {outcome.run_ok}, expected {expect['run_ok']}")
    for name in ("lines_in", "lines_reported", "lines_quarantined"):
        if getattr(outcome, name) != expect[name]:
            problems.append(f"{name} is {getattr(outcome, name)}, expected {expect[name]}")
    return problems


def conservation_problems(outcome: Outcome) -> list[str]:
    """No line is lost, and the files people open say the same as the run's metadata."""
    problems = []
    if outcome.lines_in != outcome.lines_reported + outcome.lines_quarantined:
        problems.append(
            f"lines_in {outcome.lines_in} != reported {outcome.lines_reported} + quarantined "
            f"{outcome.lines_quarantined}"
        )
    if len(outcome.quarantined) != outcome.lines_quarantined:
        problems.append(f"quarantine Parquet has {len(outcome.quarantined)} rows, metadata says {outcome.lines_quarantined}")
    if outcome.lines_reported and outcome.report_header is None:
        problems.append("no report CSV was published")
    elif outcome.report_header is not None and len(outcome.report) != outcome.lines_reported:
        problems.append(f"report CSV has {len(outcome.report)} lines, metadata says {outcome.lines_reported}")
    return problems


def report_shape_problems(outcome: Outcome) -> list[str]:
    """The report has the contract's columns (extra input columns never leak into it) and
    every line has all its numbers; a margin is empty only when revenue is zero."""
    problems = []
    if outcome.report_header is not None and outcome.report_header != list(REPORT_COLUMNS):
        problems.append(f"report columns {outcome.report_header} != contract {list(REPORT_COLUMNS)}")
    for row in outcome.report:
        empty = [c for c in NUMBER_COLUMNS + ("id", "line_number") if not row.get(c)]
        if not row.get("gross_margin") and row.get("revenue_usd") and Decimal(row["revenue_usd"]) != 0:
            empty.append("gross_margin")
        if empty:
            problems.append(f"report line {row['file']}:{row.get('line_number')} has empty {empty}")
    return problems


def half_up(value: Decimal, step: Decimal) -> Decimal:
    return value.quantize(step, rounding=ROUND_HALF_UP)


def line_money(row: dict, rate: Decimal) -> dict[str, Decimal]:
    """A report line's money from its own amount, units and cost, with Python's decimal."""
    with localcontext() as ctx:
        ctx.prec = 60
        revenue = half_up(Decimal(row["bill_amount"]) * rate, CENT)
        cogs = half_up(Decimal(row["units_sold"]) * Decimal(row["cost_per_unit_usd"]), CENT)
        profit = revenue - cogs
        margin = half_up(profit / revenue, MARGIN_STEP) if revenue else None
    return {"revenue_usd": revenue, "cogs_usd": cogs, "gross_profit": profit, "gross_margin": margin}


def money_problems(outcome: Outcome) -> list[str]:
    """Every reported line priced independently: amount x landed rate (1 for USD), units x cost,
    each rounded half-up to the cent; margin from the line's own profit and revenue."""
    problems = []
    for row in outcome.report:
        if any(not row.get(c) for c in NUMBER_COLUMNS):
            continue  # reported by report_shape_problems
        where = f"report line {row['file']}:{row['line_number']}"
        rate = Decimal(1) if row["currency"] == "USD" else outcome.fx_rates.get((row["currency"], row["billing_month"]))
        if rate is None:
            problems.append(f"{where} is in {row['currency']} but no such rate landed")
            continue
        for column, expected in line_money(row, rate).items():
            got = Decimal(row[column]) if row[column] else None
            if got != expected:
                problems.append(f"{where}: {column} is {row[column]!r}, decimal says {expected}")
    return problems


# --- what a case states -------------------------------------------------------------------------


def quarantine_problems(expect: dict, outcome: Outcome) -> list[str]:
    expected = sorted(
        (q["file"], int(q["line"]), tuple(sorted(q["reasons"]))) for q in expect.get("quarantined", [])
    )
    got = sorted((r["file"], int(r["line_number"]), tuple(sorted(r["reason_codes"]))) for r in outcome.quarantined)
    if got == expected:
        return []
    return [f"quarantined (file, line, reasons) are {got}, expected {expected}"]


def rejected_file_problems(expect: dict, outcome: Outcome) -> list[str]:
    """Exactly the expected files are rejected, each with an error naming what is wrong, and
    each stays in the landing zone for someone to fix."""
    expected = expect.get("rejected_files", [])
    problems = []
    if len(outcome.rejected_files) != len(expected):
        problems.append(f"rejected files are {outcome.rejected_files}, expected {[r['file'] for r in expected]}")
    for rejection in expected:
        entries = [r for r in outcome.rejected_files if rejection["file"] in r]
        if not entries:
            problems.append(f"{rejection['file']} is not among rejected files {outcome.rejected_files}")
        for fragment in rejection.get("error", []):
            if entries and not any(fragment in e for e in entries):
                problems.append(f"rejection of {rejection['file']} lacks {fragment!r}: {entries}")
        if not any(Path(key).name == rejection["file"] for key in outcome.landed_keys):
            problems.append(f"rejected {rejection['file']} is no longer in the landing zone")
    return problems


def cell_text(value) -> str:
    return "" if value is None else str(value)


def cell_problems(kind: str, wanted: list[dict], rows: list[dict]) -> list[str]:
    """Each wanted row (picked by file/line/id) exists once and has exactly the stated cells."""
    problems = []
    for want in wanted:
        picks = {k: str(v) for k, v in want.items() if k in SELECTORS}
        column = {"line": "line_number"}
        matches = [r for r in rows if all(cell_text(r.get(column.get(k, k))) == v for k, v in picks.items())]
        if len(matches) != 1:
            problems.append(f"{kind}: {len(matches)} rows match {picks}, expected 1")
            continue
        (row,) = matches
        for name, value in want.items():
            if name not in SELECTORS and cell_text(row.get(name)) != str(value):
                problems.append(f"{kind} {picks}: {name} is {cell_text(row.get(name))!r}, expected {str(value)!r}")
    return problems


def check_problems(expect: dict, outcome: Outcome) -> list[str]:
    problems = []
    for want in expect.get("checks", []):
        label = f"{want.get('asset', '*')}:{want['name']}"
        found = [
            c for c in outcome.checks
            if c.name == want["name"] and want.get("asset") in (None, c.asset)
        ]
        if not found:
            problems.append(f"check {label} was not evaluated")
        for check in found:
            if check.passed != want["passed"]:
                problems.append(f"check {label} passed={check.passed}, expected {want['passed']}: {check.description}")
            if "severity" in want and check.severity != want["severity"]:
                problems.append(f"check {label} severity {check.severity}, expected {want['severity']}")
            problems += [
                f"check {label} does not mention {m!r}: {check.description}"
                for m in want.get("mentions", []) if not check.mentions(m)
            ]
    return problems


def catalog_problems(expect: dict, outcome: Outcome) -> list[str]:
    return [
        f"cataloged {table} lacks {column!r}: {outcome.catalog_columns.get(table)}"
        for table, columns in expect.get("catalog_columns", {}).items()
        for column in columns
        if column not in outcome.catalog_columns.get(table, [])
    ]


def totals_problems(expect: dict, outcome: Outcome) -> list[str]:
    return [
        f"report {name} is {outcome.totals[name]}, expected {value}"
        for name, value in expect.get("totals", {}).items()
        if outcome.totals[name] != Decimal(str(value))
    ]


def stage_problems(stage: Stage, outcome: Outcome) -> list[str]:
    expect = stage.expect
    return (
        landing_problems(stage, outcome)
        + count_problems(expect, outcome)
        + conservation_problems(outcome)
        + report_shape_problems(outcome)
        + money_problems(outcome)
        + quarantine_problems(expect, outcome)
        + rejected_file_problems(expect, outcome)
        + cell_problems("report", expect.get("report", []), outcome.report)
        + cell_problems("governed", expect.get("governed", []), outcome.governed)
        + check_problems(expect, outcome)
        + catalog_problems(expect, outcome)
        + totals_problems(expect, outcome)
    )


def assert_stage(case: Case, stage: Stage, outcome: Outcome) -> None:
    """All of a stage's mismatches at once, so one run says everything that is off."""
    problems = stage_problems(stage, outcome)
    assert not problems, f"{case.name}: {case.description}\n- " + "\n- ".join(problems) + "\n" + outcome.diagnosis()


def run_stage(pipeline: CasePipeline, case: Case, stage: Stage) -> Outcome:
    pipeline.land(case.directory, stage.land)
    return pipeline.run(summary=stage.summary)


@pytest.mark.e2e
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_case(case: Case, spark, tmp_path):
    pipeline = CasePipeline(tmp_path / "home")
    assert_stage(case, case.first, run_stage(pipeline, case, case.first))


# --- late files: fixing the cause and re-running the month --------------------------------------


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return [{k.strip().lower(): v.strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def independent_totals(case: Case, month: str) -> dict[str, Decimal]:
    """Revenue, COGS and gross profit of every bill line of the case's files, computed with
    Python's csv and decimal alone: what the report must add up to once nothing is missing."""
    files = {p.name: read_csv(p) for p in case.directory.glob("*.csv")}
    bills = [row for rows in files.values() for row in rows if "bill_amount" in row]
    units = {(r["company_id"], r["item_type"]): Decimal(r["units_sold"]) for rows in files.values() for r in rows if "units_sold" in r}
    costs = {r["item"]: Decimal(r["cost_per_unit_usd"]) for rows in files.values() for r in rows if "cost_per_unit_usd" in r}
    rates = {(r["currency"], r["month"]): Decimal(r["rate_to_usd"]) for rows in files.values() for r in rows if "rate_to_usd" in r}
    revenue = cogs = Decimal("0.00")
    for bill in bills:
        rate = Decimal(1) if bill["currency"] == "USD" else rates[(bill["currency"], month)]
        revenue += half_up(Decimal(bill["bill_amount"]) * rate, CENT)
        cogs += half_up(units[(bill["id"], bill["item_sold"])] * costs[bill["item_sold"]], CENT)
    return {"revenue_usd": revenue, "cogs_usd": cogs, "gross_profit_usd": revenue - cogs}


def report_csv_totals(outcome: Outcome) -> dict[str, Decimal]:
    return {
        "revenue_usd": sum((Decimal(r["revenue_usd"]) for r in outcome.report), Decimal(0)),
        "cogs_usd": sum((Decimal(r["cogs_usd"]) for r in outcome.report), Decimal(0)),
        "gross_profit_usd": sum((Decimal(r["gross_profit"]) for r in outcome.report), Decimal(0)),
    }


def assert_late_file_fixes_the_month(case_name: str, tmp_path: Path) -> None:
    """First run: the line waits in quarantine. The late file lands, the month re-runs: the line
    is reported, the quarantine is empty, and the totals are the independent computation's."""
    case = load_case(CORPUS_DIR / case_name)
    pipeline = CasePipeline(tmp_path / "home")
    before = run_stage(pipeline, case, case.first)
    assert_stage(case, case.first, before)
    after = run_stage(pipeline, case, case.rerun)
    assert_stage(case, case.rerun, after)
    expected = independent_totals(case, "2023-07")
    assert after.totals == expected, after.diagnosis()
    assert report_csv_totals(after) == expected
    assert after.totals["gross_profit_usd"] != before.totals["gross_profit_usd"]


@pytest.mark.e2e
def test_a_late_units_file_moves_the_line_from_quarantine_to_the_report(spark, tmp_path):
    assert_late_file_fixes_the_month("late_units_file", tmp_path)


@pytest.mark.e2e
def test_a_late_fx_rate_moves_the_line_from_quarantine_to_the_report(spark, tmp_path):
    assert_late_file_fixes_the_month("late_fx_rate", tmp_path)


@pytest.mark.parametrize("case", corpus_cases(), ids=[case.name for case in corpus_cases()])
def test_every_corpus_file_is_landed_by_its_case(case: Case):
    """A file a case forgot to land would make it pass for the wrong reason; a landing of a file
    that isn't there would fail for one."""
    stages = [case.first] + ([case.rerun] if case.rerun else [])
    landed = [landing.file for stage in stages for landing in stage.land]
    present = sorted(p.name for p in case.directory.iterdir() if p.name != "expected.yaml")
    assert sorted(landed) == present
