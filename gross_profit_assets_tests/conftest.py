"""Shared fixtures: one local Spark session for the whole test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark():
    from gross_profit_assets.resources.spark import shared_spark_session

    return shared_spark_session()


@pytest.fixture(scope="session")
def moto():
    from gross_profit_assets_tests.aws_server import moto_server

    with moto_server() as server:
        yield server
