"""Fixtures for the embedded-AWS tests: one synthesized sample app per session, one server per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_kit.local import EmbeddedAws
from mlops_kit.local.deploy import find_cdk_cli

from .flow_app import build as build_flow_app
from .sample_app import build

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sample_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-stack sample app, synthesized once (a synth takes ~10 s on two cores)."""
    return build(tmp_path_factory.mktemp("sample") / "cdk.out")


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedAws]:
    """A moto server on 127.0.0.1 for the module; stopped afterwards."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with EmbeddedAws(log_file=log) as server:
        yield server
    assert not server.is_running()


@pytest.fixture(scope="session")
def cdk_cli() -> list[str] | None:
    """The project's CDK CLI (node_modules/.bin/cdk), or None when it is not installed."""
    return find_cdk_cli(ROOT)


@pytest.fixture(scope="session")
def flow_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``flow_app``: the deploy flow alone, instance-backed and serverless staging (synthesized once)."""
    return build_flow_app(tmp_path_factory.mktemp("flow") / "cdk.out")
