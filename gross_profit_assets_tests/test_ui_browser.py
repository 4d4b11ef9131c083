"""The Dagster UI as a person uses it: Playwright drives the system Chromium against a real
``dagster dev`` (``workspace.yaml``, fresh homes) over the bundled seed sample.

A person opens the global lineage and sees every asset and every dependency, clicks
"Materialize all", waits for the run, opens ``gross_profit_report`` and sees its totals and its
passed checks, opens the HTML report and sees its charts, and finally materializes the report a
second time from its own page and sees its totals plotted across the two materializations.
Before any click, the code location is checked through the GraphQL API the UI itself uses: the
four stages are the asset groups, every asset has a description and kinds, the lineage edges are
exactly the contract's, and the jobs cover the month and the summary. Screenshots of each step
go to ``test-artifacts/ui/`` (with ``timings.json``), so a failure can be looked at, not guessed.

What the UI of Dagster 1.13 does on "Materialize all" here: the graph mixes month-partitioned
assets and the unpartitioned ``gross_profit_summary``; the button opens "Launch runs to
materialize N assets" with an empty custom partition selection and a disabled
"Launch backfill". Once ``2023-07`` is picked the button reads "Launch 1 run", and it launches a
single run of every asset and check, tagged ``dagster/partition=2023-07`` (the summary runs in it,
unpartitioned). The tests assert the outcome (every asset materialized by runs launched from the
UI), not that wording.

Chromium is Debian's ``/usr/bin/chromium`` (``scripts/ensure-chromium``); ``playwright install``
is never used. The browser, Playwright's driver and ``dagster dev`` are all stopped at the end,
and the last test proves that no process of either is left.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect, sync_playwright

from gross_profit_assets.contract import REPORT_COLUMNS
from gross_profit_assets_tests.dagster_dev import (
    DAGSTER_EXECUTABLE,
    LOCATION_NAME,
    REPO_ROOT,
    REPOSITORY_NAME,
    DagsterDev,
)

pytestmark = pytest.mark.e2e

ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
SEED_FILES = sorted((REPO_ROOT / "gross_profit_assets" / "sample_data").glob("*.csv"))
GROSS_PROFIT_CLI = DAGSTER_EXECUTABLE.with_name("gross-profit")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Wide enough for the expanded lineage to fit at a zoom where nodes show their full names
# (below 0.6 the UI draws minimal nodes with truncated names).
VIEWPORT = {"width": 2400, "height": 1500}
#: Set in the environment of Playwright's driver; the browser and its helpers inherit it.
BROWSER_MARKER_ENV_VAR = "GROSS_PROFIT_TEST_BROWSER"
# The first visit to a localhost UI opens a "join the community" modal that swallows clicks;
# this is how the UI remembers it was dismissed (useStateWithStorage stores JSON).
DISMISS_COMMUNITY_NUX = "window.localStorage.setItem('communityNux', JSON.stringify('1'))"

MONTH = "2023-07"
REPORT = "gross_profit_report"
MONTH_SUMS = "gross_profit_month_sums"  # written by the report's step
TOTALS_CHECK = "totals_reconcile_with_governed_lines"
SEED_GROSS_PROFIT_USD = "19165"  # as the UI prints the float metadata value 19165.0
SEED_GROSS_PROFIT_TEXT = "19,165.00"  # as the HTML report prints it
CHARTS = {"gross_profit_by_company", "units_by_item", "margin_by_product_line", "gross_profit_by_month"}

UI_TIMEOUT_MS = 60_000  # the machine is shared; a slow render is not a failure
RUN_TIMEOUT_S = 600  # the run took 3.5-4.7 min on the shared 2-core machine under load
PROCESS_EXIT_TIMEOUT_S = 15
TERMINAL_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}

# --- the code location as the UI's API serves it ----------------------------------------

STAGES = ["landing", "catalog", "governed", "report"]
INPUT_TABLES = ["billing", "units_sold", "production_costs", "fx_rates"]
GLUE_TABLES = [f"{t}_glue_table" for t in INPUT_TABLES]
MONTH_JOB = "gross_profit_month"
SUMMARY_JOB = "gross_profit_summary_job"

# The lineage is the product's contract: written out, not derived from the code under test.
EXPECTED_EDGES = (
    {(f"landed_{t}_files", f"{t}_glue_table") for t in INPUT_TABLES}
    | {(g, "governed_billing_lines") for g in GLUE_TABLES}
    | {(g, "quarantined_billing_lines") for g in GLUE_TABLES}
    | {
        ("governed_billing_lines", "gross_profit_report"),
        ("quarantined_billing_lines", "gross_profit_report"),
        ("governed_billing_lines", "gross_profit_month_sums"),
        ("quarantined_billing_lines", "gross_profit_month_sums"),
        ("gross_profit_report", "gross_profit_summary"),
        ("gross_profit_month_sums", "gross_profit_summary"),
        ("quarantined_billing_lines", "gross_profit_summary"),
    }
)

LINEAGE_QUERY = """
query GrossProfitLineage($selector: RepositorySelector!) {
  repositoryOrError(repositorySelector: $selector) {
    __typename
    ... on Repository {
      name
      location { name }
      jobs { name isAssetJob }
      assetGroups { groupName assetKeys { path } }
      assetNodes {
        assetKey { path }
        groupName
        description
        kinds
        isMaterializable
        jobNames
        dependencyKeys { path }
        dependedByKeys { path }
      }
    }
    ... on PythonError { message stack }
    ... on RepositoryNotFoundError { message }
  }
}
"""


# The global asset lineage; every graph of the UI is this one SVG (nodes are foreignObjects).
LINEAGE_ROUTE = "/asset-groups"
GRAPH = "svg[class*='svgContainer']"
# Asset nodes carry their full name in ``data-tooltip`` (group boxes are ``foreignObject.group``);
# every drawn edge is a path with an arrow marker, directly under the SVG.
RENDERED_GRAPH_JS = """
graph => ({
  nodes: [...graph.querySelectorAll(':scope > foreignObject:not(.group)')]
    .map(el => ({el, name: el.querySelector('[data-tooltip]')?.getAttribute('data-tooltip')}))
    .filter(node => node.name)
    .map(({el, name}) => ({
      name,
      x: el.x.baseVal.value, y: el.y.baseVal.value,
      width: el.width.baseVal.value, height: el.height.baseVal.value,
    })),
  edges: [...graph.querySelectorAll(':scope > path[marker-end]')].map(path => path.getAttribute('d')),
})
"""
# Edges leave a node's right side and end just before the next node's left side (arrow head).
EDGE_SNAP = 16.0

ASSETS_QUERY = """
query GrossProfitBrowserAssets {
  assetNodes {
    assetKey { path }
    isPartitioned
    dependencyKeys { path }
    latest: assetMaterializations(limit: 1) { runId partition }
  }
}
"""

RUNS_QUERY = """
query GrossProfitBrowserRuns {
  runsOrError {
    __typename
    ... on Runs { results { runId status tags { key value } } }
    ... on PythonError { message }
  }
}
"""

REPORT_HISTORY_QUERY = """
query GrossProfitBrowserReportHistory($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetMaterializations(limit: 10) {
        runId
        metadataEntries { label ... on FloatMetadataEntry { floatValue } }
      }
    }
  }
}
"""

CHECKS_QUERY = """
query GrossProfitBrowserChecks($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetChecksOrError {
        ... on AssetChecks {
          checks { name blocking executionForLatestMaterialization { status runId } }
        }
      }
    }
  }
}
"""


# --- processes -------------------------------------------------------------------------------


def browser_processes(marker: str, user_data_dir: Path) -> list[int]:
    """PIDs of the live processes of one browser session, whatever their process group.

    Playwright's driver, Chromium and its crash handlers (which detach to init) inherit the
    marker in their environment; Chromium's zygotes, renderers and utilities get an environment
    of their own but carry the session's ``--user-data-dir`` argument (a path without spaces).
    """
    marker_entry = f"{BROWSER_MARKER_ENV_VAR}={marker}".encode()
    profile_argument = f"--user-data-dir={user_data_dir}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
            # Chromium's helpers rewrite their argv as one space-separated string.
            cmdline = re.split(rb"[\0 ]", Path(f"/proc/{name}/cmdline").read_bytes())
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if state not in ("Z", "X") and (marker_entry in environ or profile_argument in cmdline):
            found.append(int(name))
    return sorted(found)


class ChromiumSession:
    """Playwright's driver and Debian's Chromium with a fresh profile, stopped by PID.

    The driver is started with a marker in its environment, so everything it starts can be
    found afterwards (``browser_processes``), and anything that outlived ``close`` is killed and
    reported.
    """

    def __init__(self, user_data_dir: Path):
        self.user_data_dir = user_data_dir
        self.marker = uuid.uuid4().hex
        self.context: BrowserContext | None = None
        self._playwright = None

    def start(self) -> BrowserContext:
        if not CHROMIUM.exists():
            raise RuntimeError(f"{CHROMIUM} is missing: run scripts/ensure-chromium (make install does)")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(BROWSER_MARKER_ENV_VAR, self.marker)  # only while the driver starts
            self._playwright = sync_playwright().start()
        self.context = self._playwright.chromium.launch_persistent_context(
            str(self.user_data_dir),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
        )
        self.context.set_default_timeout(UI_TIMEOUT_MS)
        self.context.add_init_script(DISMISS_COMMUNITY_NUX)
        return self.context

    def close(self) -> None:
        """Close the browser, stop the driver; raise if a process of either is left."""
        try:
            if self.context is not None:
                self.context.close()
        finally:
            self.context = None
            if self._playwright is not None:
                self._playwright.stop()
                self._playwright = None
        left = self._wait_gone(time.monotonic() + PROCESS_EXIT_TIMEOUT_S)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(pid, signal.SIGKILL)
        if left:
            raise RuntimeError(f"browser processes still alive after close (killed now): {left}")

    def processes(self) -> list[int]:
        return browser_processes(self.marker, self.user_data_dir)

    def _wait_gone(self, deadline: float) -> list[int]:
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timings() -> Iterator[dict[str, float]]:
    """Seconds per step, written next to the screenshots: the module's budget is ~3 minutes."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    measured: dict[str, float] = {}
    yield measured
    (ARTIFACTS / "timings.json").write_text(json.dumps(measured, indent=2) + "\n")


@contextmanager
def timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        timings[step] = round(time.monotonic() - started, 1)


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory, timings) -> Iterator[DagsterDev]:
    """Hands-free off: the sensors would otherwise materialize the seed by themselves, racing the
    click this module is about."""
    dev = DagsterDev(base_dir=tmp_path_factory.mktemp("dagster_dev_ui"), env={"GROSS_PROFIT_HANDS_FREE": "off"})
    try:
        with timed(timings, "dagster_dev_start"):
            dev.start()
        yield dev
    finally:
        dev.close()


@pytest.fixture(scope="module")
def seeded(dagster_dev, timings) -> DagsterDev:
    """The seed sample landed by the CLI into the same instance, so the month partition exists."""
    with timed(timings, "ingest_seed"):
        completed = subprocess.run(
            [str(GROSS_PROFIT_CLI), "--home", str(dagster_dev.gross_profit_home), "ingest", *map(str, SEED_FILES)],
            env=dagster_dev.environment(),  # the server's GROSS_PROFIT_HOME and DAGSTER_HOME
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,  # the assertion below shows stderr
        )
    assert completed.returncode == 0, f"ingest failed ({completed.returncode}):\n{completed.stderr[-3000:]}"
    return dagster_dev


@pytest.fixture(scope="module")
def assets(seeded) -> dict[str, dict]:
    """The graph as the webserver serves it: the truth the rendered page is compared with."""
    return {asset_name(n): n for n in seeded.graphql(ASSETS_QUERY)["assetNodes"]}


@pytest.fixture(scope="module")
def chromium(tmp_path_factory) -> Iterator[ChromiumSession]:
    session = ChromiumSession(tmp_path_factory.mktemp("chromium_profile"))
    try:
        session.start()
        yield session
    finally:
        session.close()


@pytest.fixture
def page(chromium) -> Iterator[Page]:
    opened = chromium.context.new_page()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="module")
def materialized_from_ui(seeded, assets, chromium, timings) -> dict:
    """Clicks "Materialize all" on the lineage page, picks the month, launches, and waits for the
    launched runs to finish. Returns what the dialog said and the runs it started."""
    before = {run["runId"] for run in runs(seeded)}
    opened = chromium.context.new_page()
    try:
        with timed(timings, "materialize_all_clicks"):
            clicked = click_materialize(opened, seeded.url + LINEAGE_ROUTE)
    finally:
        opened.close()
    with timed(timings, "materialize_all_run"):
        launched = wait_for_new_runs(seeded, before, set(assets))
    return {**clicked, "runs": launched}


@pytest.fixture(scope="module")
def rematerialized_report(seeded, materialized_from_ui, chromium, timings) -> list[dict]:
    """A second materialization of the report (with its month sums, the same step's other
    output), launched from its own page's "Materialize…" button: what a person does after
    fixing something upstream."""
    before = {run["runId"] for run in runs(seeded)}
    opened = chromium.context.new_page()
    try:
        with timed(timings, "rematerialize_report_clicks"):
            click_materialize(opened, f"{seeded.url}/assets/{REPORT}", "Materialize…", also=(MONTH_SUMS,))
    finally:
        opened.close()
    with timed(timings, "rematerialize_report_run"):
        return wait_for_new_runs(seeded, before, {REPORT, MONTH_SUMS})


@pytest.fixture(scope="module")
def repository(dagster_dev) -> dict:
    """The code location as the UI's GraphQL API serves it."""
    selector = {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME}
    answer = dagster_dev.graphql(LINEAGE_QUERY, {"selector": selector})["repositoryOrError"]
    assert answer["__typename"] == "Repository", answer
    return answer


@pytest.fixture(scope="module")
def nodes(repository) -> dict[str, dict]:
    return {asset_key_name(n["assetKey"]): n for n in repository["assetNodes"]}


@pytest.fixture(scope="module")
def code_groups() -> dict[str, str]:
    from gross_profit_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    return {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}


# --- helpers ---------------------------------------------------------------------------------


def asset_key_name(asset_key: dict) -> str:
    return "/".join(asset_key["path"])


def asset_name(node: dict) -> str:
    return asset_key_name(node["assetKey"])


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def visible(locator: Locator) -> None:
    expect(locator).to_be_visible(timeout=UI_TIMEOUT_MS)


def dependency_edges(assets: dict[str, dict]) -> set[tuple[str, str]]:
    return {("/".join(dep["path"]), name) for name, node in assets.items() for dep in node["dependencyKeys"]}


def expand_all_groups(page: Page) -> None:
    """The global lineage opens with each group collapsed into one box; the graph's settings
    menu expands them all (what a person clicks, and it lands in the URL as ``expanded=``)."""
    page.get_by_role("button", name="settings", exact=True).click()
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.keyboard.press("Escape")  # close the settings menu so it hides nothing
    expect(page).to_have_url(re.compile(r"expanded="), timeout=UI_TIMEOUT_MS)


def edge_endpoints(path_d: str) -> tuple[tuple[float, float], tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path_d)]
    return (numbers[0], numbers[1]), (numbers[-2], numbers[-1])


def nearest(nodes: list[dict], point: tuple[float, float], side: str) -> str | None:
    """The node whose left or right middle is within ``EDGE_SNAP`` of ``point``."""
    def distance(node: dict) -> float:
        x = node["x"] + (node["width"] if side == "right" else 0)
        y = node["y"] + node["height"] / 2
        return ((x - point[0]) ** 2 + (y - point[1]) ** 2) ** 0.5

    best = min(nodes, key=distance, default=None)
    return best["name"] if best is not None and distance(best) <= EDGE_SNAP else None


def drawn_edges(rendered: dict) -> set[tuple[str | None, str | None]]:
    """Each drawn path as (upstream, downstream) by the nodes it connects; a highlighted edge is
    drawn twice and counts once."""
    edges = set()
    for d in rendered["edges"]:
        start, end = edge_endpoints(d)
        edges.add((nearest(rendered["nodes"], start, "right"), nearest(rendered["nodes"], end, "left")))
    return edges


def rendered_graph(page: Page, expected_nodes: set[str], expected_edges: set[tuple[str, str]]) -> dict:
    """The graph once it shows what is expected, or as it is at the deadline (edges are laid out
    by a web worker after the nodes appear)."""
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while True:
        rendered = page.locator(GRAPH).evaluate(RENDERED_GRAPH_JS)
        names = {node["name"] for node in rendered["nodes"]}
        if (names == expected_nodes and drawn_edges(rendered) == expected_edges) or time.monotonic() > deadline:
            return rendered
        time.sleep(0.5)


def click_materialize(page: Page, url: str, button: str = "Materialize all", also: tuple[str, ...] = ()) -> dict:
    """Opens ``url``, clicks the button showing ``button``, picks the month in the launch dialog
    and launches. ``also``: the assets the UI says will be materialized too (the other outputs
    of the same step), confirmed in its "Additional assets will be materialized" notice."""
    page.goto(url)
    page.get_by_role("button").filter(has_text=button).first.click()
    dialog = page.get_by_role("dialog")
    if also:
        visible(dialog.get_by_text("Additional assets will be materialized"))
        for name in also:
            visible(dialog.get_by_role("link", name=name, exact=True))
        dialog.get_by_role("button", name="Confirm").click()
    try:
        visible(dialog.get_by_text("Launch runs to materialize"))
    except AssertionError:
        screenshot(page, "failed-materialize-dialog.png", full_page=True)
        raise
    title = dialog.get_by_text("Launch runs to materialize").inner_text()
    dialog.get_by_text("Select a partition or create one").click()
    page.get_by_title(MONTH, exact=True).click()  # the partition's entry in the drop-down list
    dialog.get_by_text("Launch runs to materialize").click()  # close the list, keep the dialog
    visible(dialog.get_by_text("1 partition", exact=True))
    screenshot(page, "02-materialize-all-dialog.png")
    launch = dialog.get_by_role("button", name=re.compile(r"^Launch"))
    label = launch.inner_text()
    launch.click()
    expect(dialog).to_be_hidden(timeout=UI_TIMEOUT_MS)
    return {"dialog_title": title, "launch_button": label}


def runs(dev: DagsterDev) -> list[dict]:
    answer = dev.graphql(RUNS_QUERY)["runsOrError"]
    assert answer["__typename"] == "Runs", answer
    return answer["results"]


def materialized_by(dev: DagsterDev, run_ids: set[str]) -> set[str]:
    return {
        asset_name(node)
        for node in dev.graphql(ASSETS_QUERY)["assetNodes"]
        if node["latest"] and node["latest"][0]["runId"] in run_ids
    }


def report_materializations(dev: DagsterDev) -> list[dict]:
    node = dev.graphql(REPORT_HISTORY_QUERY, {"key": {"path": [REPORT]}})["assetNodeOrError"]
    return node["assetMaterializations"]


def wait_for_new_runs(dev: DagsterDev, before: set[str], every_asset: set[str]) -> list[dict]:
    """Polls until the runs started after ``before`` are all finished and have materialized
    every asset (a backfill may start its runs one after another), or one of them failed."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        launched = [run for run in runs(dev) if run["runId"] not in before]
        finished = launched and all(run["status"] in TERMINAL_RUN_STATUSES for run in launched)
        if finished and (
            any(run["status"] != "SUCCESS" for run in launched)
            or materialized_by(dev, {run["runId"] for run in launched}) == every_asset
        ):
            return launched
        if time.monotonic() > deadline:
            pytest.fail(
                f"runs launched from the UI not done after {RUN_TIMEOUT_S} s: "
                f"{[(r['runId'], r['status']) for r in launched]}; see {dev.log_path}"
            )
        time.sleep(2)


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return False


def report_checks(dev: DagsterDev) -> list[dict]:
    node = dev.graphql(CHECKS_QUERY, {"key": {"path": [REPORT]}})["assetNodeOrError"]
    return node["assetChecksOrError"]["checks"]


def metadata_value(page: Page, label: str) -> str:
    """The value cell of a materialization's metadata row, found by its label cell."""
    row = page.locator("tr").filter(has=page.get_by_text(label, exact=True))
    expect(row).to_have_count(1, timeout=UI_TIMEOUT_MS)
    return row.locator("td").nth(1).inner_text().strip()


# --- tests -----------------------------------------------------------------------------------


def test_dagster_dev_runs_the_code_location_with_every_service(dagster_dev):
    roles = {
        "dagster dev": " dev -w ",
        "code server": "dagster code-server start",
        "user code gRPC server": "dagster api grpc",
        "webserver": "dagster_webserver",
        "daemon": "dagster._daemon run",
    }
    cmdlines = [p.cmdline for p in dagster_dev.processes()]
    missing = [role for role, marker in roles.items() if not any(marker in c for c in cmdlines)]
    # Also proves the stop check below can see every child it must find gone.
    assert not missing, f"no {missing} among {cmdlines}"
    assert dagster_dev.graphql("{ version }")["version"]


def test_the_four_stages_are_the_asset_groups(repository, code_groups):
    ui_groups = {g["groupName"]: sorted(asset_key_name(k) for k in g["assetKeys"]) for g in repository["assetGroups"]}
    assert sorted(ui_groups) == sorted(STAGES)
    expected = defaultdict(list)
    for asset, group in code_groups.items():
        expected[group].append(asset)
    assert ui_groups == {g: sorted(keys) for g, keys in expected.items()}


def test_every_asset_of_the_definitions_is_in_the_ui_in_its_group(nodes, code_groups):
    assert sorted(nodes) == sorted(code_groups)
    assert {a: n["groupName"] for a, n in nodes.items()} == code_groups
    assert all(n["isMaterializable"] for n in nodes.values())
    # The stages as a reader knows them, independently of the code.
    assert sorted(a for a, g in code_groups.items() if g == "landing") == sorted(
        f"landed_{t}_files" for t in INPUT_TABLES
    )
    assert sorted(a for a, g in code_groups.items() if g == "catalog") == sorted(GLUE_TABLES)
    assert sorted(a for a, g in code_groups.items() if g == "governed") == [
        "governed_billing_lines",
        "quarantined_billing_lines",
    ]
    assert sorted(a for a, g in code_groups.items() if g == "report") == [
        "gross_profit_month_sums",
        "gross_profit_report",
        "gross_profit_summary",
    ]


def test_the_lineage_edges_are_exactly_the_contract(nodes):
    upstream_edges = {(asset_key_name(dep), asset) for asset, n in nodes.items() for dep in n["dependencyKeys"]}
    downstream_edges = {(asset, asset_key_name(child)) for asset, n in nodes.items() for child in n["dependedByKeys"]}
    missing = sorted(EXPECTED_EDGES - upstream_edges)
    unexpected = sorted(upstream_edges - EXPECTED_EDGES)
    assert not missing and not unexpected, f"missing edges {missing}, unexpected edges {unexpected}"
    assert downstream_edges == upstream_edges  # the graph reads the same in both directions


def test_every_asset_has_a_description_and_kinds(nodes):
    undescribed = sorted(a for a, n in nodes.items() if not (n["description"] or "").strip())
    assert not undescribed
    assert sorted(a for a, n in nodes.items() if not n["kinds"]) == []


def test_the_jobs_exist_and_cover_the_month_and_the_summary(repository, nodes):
    jobs = {j["name"] for j in repository["jobs"]}
    assert {MONTH_JOB, SUMMARY_JOB} <= jobs, jobs
    in_month_job = sorted(a for a, n in nodes.items() if MONTH_JOB in n["jobNames"])
    in_summary_job = sorted(a for a, n in nodes.items() if SUMMARY_JOB in n["jobNames"])
    assert in_month_job == sorted(set(nodes) - {"gross_profit_summary"})
    assert in_summary_job == ["gross_profit_summary"]


def test_the_lineage_page_shows_every_asset_and_every_edge(seeded, assets, page, timings):
    expected_edges = dependency_edges(assets)
    with timed(timings, "lineage_page"):
        page.goto(seeded.url + LINEAGE_ROUTE)
        visible(page.locator(GRAPH))
        expand_all_groups(page)
        for name in sorted(assets):
            visible(page.locator(GRAPH).locator(f'[data-tooltip="{name}"]'))
        rendered = rendered_graph(page, set(assets), expected_edges)
    screenshot(page, "01-lineage.png")

    drawn = drawn_edges(rendered)
    assert {node["name"] for node in rendered["nodes"]} == set(assets)
    assert len(drawn) == len(expected_edges), (
        f"{len(drawn)} edges drawn, {len(expected_edges)} dependencies; "
        f"missing {sorted(expected_edges - drawn)}, unexpected {sorted(drawn - expected_edges, key=str)}"
    )
    assert drawn == expected_edges


def test_materialize_all_clicked_in_the_ui_materializes_every_asset(seeded, assets, materialized_from_ui):
    launched = materialized_from_ui["runs"]
    assert materialized_from_ui["dialog_title"].endswith(f"materialize {len(assets)} assets")
    assert launched, "clicking Launch started no run"
    assert [run["status"] for run in launched] == ["SUCCESS"] * len(launched), f"see {seeded.log_path}"
    for run in launched:
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        assert tags.get("dagster/from_ui") == "true", tags

    run_ids = {run["runId"] for run in launched}
    latest = {asset_name(n): n["latest"][0] for n in seeded.graphql(ASSETS_QUERY)["assetNodes"] if n["latest"]}
    assert set(latest) == set(assets)
    assert {name for name, m in latest.items() if m["runId"] not in run_ids} == set()
    assert {name: latest[name]["partition"] for name, node in assets.items() if node["isPartitioned"]} == {
        name: MONTH for name, node in assets.items() if node["isPartitioned"]
    }


def test_the_report_asset_page_shows_its_totals_columns_and_passed_checks(seeded, materialized_from_ui, page, timings):
    url = f"{seeded.url}/assets/{REPORT}"
    with timed(timings, "report_asset_pages"):
        page.goto(url)
        visible(page.get_by_text("Columns", exact=True))
        for column in REPORT_COLUMNS:
            visible(page.get_by_role("cell", name=column, exact=True).first)
        screenshot(page, "03-report-overview.png")

        page.goto(f"{url}?view=events")
        visible(page.get_by_text(f"Partition {MONTH} materialized in run"))
        assert metadata_value(page, "gross_profit_usd") == SEED_GROSS_PROFIT_USD
        screenshot(page, "04-report-events.png")

        checks = report_checks(seeded)
        assert TOTALS_CHECK in {check["name"] for check in checks}
        page.goto(f"{url}?view=checks")
        for check in sorted(checks, key=lambda c: c["name"] == TOTALS_CHECK):  # the totals last
            page.get_by_title(check["name"], exact=True).first.click()  # the list comes first
            expect(page).to_have_url(re.compile(f"checkDetail={check['name']}"), timeout=UI_TIMEOUT_MS)
            visible(page.get_by_text("Evaluation result", exact=True))
            visible(page.get_by_text("Passed", exact=True))
            if check["blocking"]:
                visible(page.get_by_text("This is a blocking asset check"))
        screenshot(page, "05-report-checks.png")

    run_ids = {run["runId"] for run in materialized_from_ui["runs"]}
    assert {c["name"]: c["executionForLatestMaterialization"]["status"] for c in checks} == {
        c["name"]: "SUCCEEDED" for c in checks
    }
    assert all(c["executionForLatestMaterialization"]["runId"] in run_ids for c in checks)


def test_the_html_report_renders_its_charts(seeded, materialized_from_ui, page, timings):
    html = seeded.gross_profit_home / "reports" / "gross_profit_report.html"
    assert html.is_file(), f"no HTML report at {html}"
    with timed(timings, "html_report"):
        page.goto(html.as_uri())
        charts = page.locator("svg.chart[data-chart]")
        visible(charts.first)
        screenshot(page, "06-html-report.png", full_page=True)
        names = {charts.nth(i).get_attribute("data-chart") for i in range(charts.count())}
        assert names == CHARTS
        for name in sorted(CHARTS):
            chart = page.locator(f'svg.chart[data-chart="{name}"]')
            box = chart.bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0, f"{name} is not drawn: {box}"
            bars = chart.locator("rect.bar")
            assert bars.count() > 0, f"{name} has no bar"
            for i in range(bars.count()):
                bar = bars.nth(i).bounding_box()
                assert bar and bar["width"] > 0 and bar["height"] > 0, f"bar {i} of {name} is not drawn: {bar}"
    visible(page.get_by_text(SEED_GROSS_PROFIT_TEXT).first)


def test_the_report_totals_are_plotted_across_two_materializations(seeded, rematerialized_report, page, timings):
    assert [run["status"] for run in rematerialized_report] == ["SUCCESS"] * len(rematerialized_report)
    history = report_materializations(seeded)
    assert len(history) == 2, [m["runId"] for m in history]
    for materialization in history:  # numbers (not text), so the UI can plot them
        values = {e["label"]: e.get("floatValue") for e in materialization["metadataEntries"]}
        assert values["gross_profit_usd"] == float(SEED_GROSS_PROFIT_USD), values
    with timed(timings, "report_plots"):
        page.goto(f"{seeded.url}/assets/{REPORT}")
        visible(page.get_by_text("Row count", exact=True))
        # The metadata section's toolbar: [Table | Plots], then in plots [Partitions | Events].
        page.get_by_role("button").filter(has_text="Plots").first.click()
        page.get_by_role("button").filter(has_text="Events").first.click()  # a point per materialization
        for label in ("gross_profit_usd", "revenue_usd", "gross_margin", "dagster/row_count"):
            title = page.get_by_text(label, exact=True).first
            visible(title)
        plots = page.locator("canvas")
        visible(plots.first)
        assert plots.count() >= 4
        box = plots.first.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0
        screenshot(page, "07-report-plots.png", full_page=True)


def test_stopping_leaves_no_browser_and_no_dagster_process(chromium, dagster_dev, timings):
    # Keep this test last in the module: it stops the shared browser and dagster dev.
    browser_before, dagster_before = chromium.processes(), dagster_dev.processes()
    assert len(browser_before) > 2, f"the browser's processes are not all found: {browser_before}"
    assert dagster_before
    with timed(timings, "stop_browser_and_dagster_dev"):
        chromium.close()  # raises if a process of the browser or its driver is left
        report = dagster_dev.stop()  # raises if a process of dagster dev is left
    assert chromium.processes() == []
    assert [pid for pid in browser_before if Path(f"/proc/{pid}").exists() and not zombie(pid)] == []
    assert not report.forced, f"dagster dev needed SIGKILL; see {dagster_dev.log_path}"
