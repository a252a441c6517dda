"""The worked example in docs/constructs.md ("Add your own construct") runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "constructs.md"


def block(marker: str) -> str:
    match = re.search(rf"<!-- example:{marker} -->\s*```python\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"docs/constructs.md lost its example:{marker} block"
    return match.group(1)


@pytest.fixture(scope="module")
def namespace() -> dict[str, Any]:
    scope: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(block("construct"), str(DOC), "exec"), scope)
    exec(compile(block("test"), str(DOC), "exec"), scope)
    return scope


def test_docs_example_construct_test_passes(namespace: dict[str, Any]) -> None:
    namespace["test_results_are_encrypted_with_the_kit_key_and_enforced"]()


def test_docs_example_failure_test_passes(namespace: dict[str, Any]) -> None:
    namespace["test_fails_if_cutoff_is_below_the_athena_minimum"]()
