"""Definitions built once per session, with CDK tokens as arguments and no network."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.pipelines._support import batch_arguments, no_network, tabular_arguments


@pytest.fixture(scope="session")
def tabular_json() -> str:
    from mlops_kit.pipelines import build_tabular_training_definition

    with no_network():
        return build_tabular_training_definition(**tabular_arguments())


@pytest.fixture(scope="session")
def tabular(tabular_json: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(tabular_json)
    return parsed


@pytest.fixture(scope="session")
def batch_json() -> str:
    from mlops_kit.pipelines import build_batch_inference_definition

    with no_network():
        return build_batch_inference_definition(**batch_arguments())


@pytest.fixture(scope="session")
def batch(batch_json: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(batch_json)
    return parsed
