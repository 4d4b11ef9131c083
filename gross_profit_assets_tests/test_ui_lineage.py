"""The Dagster UI shows the four stages and their lineage: asked of a real ``dagster dev``
(``workspace.yaml``, fresh homes) through the GraphQL API the UI itself uses.

One ``dagster dev`` serves the whole module; the last test stops it and checks that no process
is left (the fixture's teardown stops it too, should that test not run)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from gross_profit_assets_tests.dagster_dev import LOCATION_NAME, REPOSITORY_NAME, DagsterDev, find_processes

pytestmark = pytest.mark.e2e

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
        ("gross_profit_report", "gross_profit_summary"),
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


def key(asset_key: dict) -> str:
    return "/".join(asset_key["path"])


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory):
    dev = DagsterDev(base_dir=tmp_path_factory.mktemp("dagster_dev"))
    try:
        dev.start()
        yield dev
    finally:
        dev.close()


@pytest.fixture(scope="module")
def repository(dagster_dev) -> dict:
    selector = {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME}
    answer = dagster_dev.graphql(LINEAGE_QUERY, {"selector": selector})["repositoryOrError"]
    assert answer["__typename"] == "Repository", answer
    return answer


@pytest.fixture(scope="module")
def nodes(repository) -> dict[str, dict]:
    return {key(n["assetKey"]): n for n in repository["assetNodes"]}


@pytest.fixture(scope="module")
def code_groups() -> dict[str, str]:
    from gross_profit_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    return {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}


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
    ui_groups = {g["groupName"]: sorted(key(k) for k in g["assetKeys"]) for g in repository["assetGroups"]}
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
        "gross_profit_report",
        "gross_profit_summary",
    ]


def test_the_lineage_edges_are_exactly_the_contract(nodes):
    upstream_edges = {(key(dep), asset) for asset, n in nodes.items() for dep in n["dependencyKeys"]}
    downstream_edges = {(asset, key(child)) for asset, n in nodes.items() for child in n["dependedByKeys"]}
    missing = sorted(EXPECTED_EDGES - upstream_edges)
    unexpected = sorted(upstream_edges - EXPECTED_EDGES)
    assert not missing and not unexpected, f"missing edges {missing}, unexpected edges {unexpected}"
    assert downstream_edges == upstream_edges  # the graph reads the same in both directions


def test_every_asset_has_a_description(nodes):
    undescribed = sorted(a for a, n in nodes.items() if not (n["description"] or "").strip())
    assert not undescribed


def test_the_jobs_exist_and_cover_the_month_and_the_summary(repository, nodes):
    jobs = {j["name"] for j in repository["jobs"]}
    assert {MONTH_JOB, SUMMARY_JOB} <= jobs, jobs
    in_month_job = sorted(a for a, n in nodes.items() if MONTH_JOB in n["jobNames"])
    in_summary_job = sorted(a for a, n in nodes.items() if SUMMARY_JOB in n["jobNames"])
    assert in_month_job == sorted(set(nodes) - {"gross_profit_summary"})
    assert in_summary_job == ["gross_profit_summary"]


def test_stopping_dagster_dev_leaves_no_process(dagster_dev):
    # Keep this test last in the module: it stops the shared dagster dev.
    before = dagster_dev.processes()
    pgid = dagster_dev.pid
    assert before
    report = dagster_dev.stop()  # raises if anything of it is still alive
    assert not report.forced, f"needed SIGKILL; see {dagster_dev.log_path}"
    assert report.returncode == 0, f"dagster dev exited with {report.returncode}; see {dagster_dev.log_path}"
    assert find_processes(pgid, dagster_dev.marker) == []
    for process in before:
        state = _state(process.pid)
        assert state in (None, "Z"), f"{process} is still {state}"


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except FileNotFoundError:
        return None
    return text[text.rindex(")") + 2 :].split()[0]
