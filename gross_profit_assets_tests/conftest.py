"""Shared fixtures: one local Spark session per test process, one moto server; and how
``make test`` spreads the tests over two processes (pytest-xdist, ``--dist loadgroup``)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


# Modules whose tests are independent cases with no shared setup: their tests may go to either
# test process. Every other module stays whole in one process, so a module-scoped fixture (a
# dagster dev, a Spark cluster, a pipeline run) is set up once.
SPREAD_MODULES = frozenset({"test_corpus.py"})
# The longest modules (measured with --durations), started first so that neither process is left
# running one of them alone at the end; `make test` keeps this order (--no-loadscope-reorder).
LONGEST_FIRST = (
    "test_pipeline_e2e.py",
    "test_hands_free_daemon.py",
    "test_ui_browser.py",
    "test_engine_parity.py",
    "test_spark_cluster.py",
    "test_aws_emr.py",
)


@pytest.hookimpl(tryfirst=True)  # before xdist's hook, which routes tests by these groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name not in SPREAD_MODULES:
            item.add_marker(pytest.mark.xdist_group(item.path.name))
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order otherwise


@pytest.fixture(scope="session")
def spark():
    from gross_profit_assets.resources.spark import shared_spark_session

    return shared_spark_session()


@pytest.fixture(scope="session")
def moto():
    from gross_profit_assets_tests.aws_server import moto_server

    with moto_server() as server:
        yield server
