"""The worked example in docs/constructs.md ("Add your own construct") runs as written.

The two blocks become the files the page names (``mlops_kit/constructs/query_workgroup.py`` and
``tests/constructs/test_query_workgroup.py``), in a temporary folder: the module is imported
under its documented name (the folder is added to ``mlops_kit.constructs.__path__``) and the
test file as its own module, so a missing import in either block fails here as it would for a
reader who copies them. Both pass the project's ruff rules.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import mlops_kit.constructs

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "constructs.md"


def block(marker: str) -> tuple[str, str]:
    """(the file the page names for the block, the block's code)."""
    match = re.search(rf"`([\w/.]+\.py)`:\s*<!-- example:{marker} -->\s*```python\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"docs/constructs.md lost its example:{marker} block (or the file name above it)"
    return match.group(1), match.group(2)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("docs-example")
    written = {}
    for marker in ("construct", "test"):
        name, code = block(marker)
        written[marker] = folder / name
        written[marker].parent.mkdir(parents=True, exist_ok=True)
        written[marker].write_text(code)
    return written


@pytest.fixture(scope="module")
def test_module(files: dict[str, Path]) -> Iterator[ModuleType]:
    assert files["construct"].parent.as_posix().endswith("mlops_kit/constructs")
    package_path = mlops_kit.constructs.__path__
    package_path.append(str(files["construct"].parent))
    try:
        spec = importlib.util.spec_from_file_location("docs_example_test", files["test"])
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # its own imports only: nothing injected
        yield module
    finally:
        package_path.remove(str(files["construct"].parent))
        sys.modules.pop("mlops_kit.constructs.query_workgroup", None)


def test_docs_example_passes_ruff(files: dict[str, Path]) -> None:
    # The project's rules; the temporary folder joins the source roots so the new module sorts as first-party.
    roots = [str(ROOT), str(files["construct"].parents[2])]
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ruff"), "check", "--config", str(ROOT / "pyproject.toml"), "--config", f"src = {roots!r}",
         *map(str, files.values())],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_docs_example_construct_test_passes(test_module: ModuleType) -> None:
    test_module.test_results_are_encrypted_with_the_kit_key_and_enforced()


def test_docs_example_failure_test_passes(test_module: ModuleType) -> None:
    test_module.test_fails_if_cutoff_is_below_the_athena_minimum()


def test_the_module_is_importable_under_its_documented_name(test_module: ModuleType) -> None:
    assert test_module.QueryWorkgroup is importlib.import_module("mlops_kit.constructs.query_workgroup").QueryWorkgroup
