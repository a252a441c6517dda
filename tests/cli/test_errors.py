"""Every CLI path a newcomer can get wrong: one line on stderr, exit 2, no traceback, nothing written.

Real processes, as in test_cli.py. A missing Node or CDK CLI is simulated with PATH; running
outside the repository with a folder that has no cdk.json above it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli import KIT, assert_plain_error, run, tree
from tests.conftest import ROOT


def run_with_path(path: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*KIT, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False, env=env)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The shipped config and app, without node_modules (each test links what it needs)."""
    for name in ("kit.yaml", "cdk.json", "app.py", "package.json"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    return tmp_path


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("new-project",), ("mlops-kit new-project: Missing argument 'name'",)),
        (("new-project", "fraud"), ("Missing option '--template'",)),
        (("synth", "--nope"), ("mlops-kit synth: No such option: --nope",)),
        (("nosuch",), ("No such command 'nosuch'",)),
        (("destroy", "--timeout", "soon"), ("Invalid value for '--timeout'",)),
        (("deploy", "--local", "--stack"), ("Option '--stack' requires an argument",)),
        (("schema", "--output", "missing/kit.schema.json"), ("--output", "existing folder")),
        (("report", "--assembly", "nope"), ("--assembly", "manifest.json not found")),
    ],
)
def test_fails_if_the_command_line_is_wrong_with_one_plain_line(tmp_path: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    assert_plain_error(run(*args, cwd=tmp_path), *needles)
    assert tree(tmp_path) == []


@pytest.mark.parametrize(
    ("description", "needle"),
    [("two\nlines", "'two\\nlines' (9 characters)"), ("tab\there", "no newlines or tabs"), ("x" * 257, "(257 characters)")],
)
def test_fails_if_new_project_description_is_bad_and_writes_nothing(checkout: Path, description: str, needle: str) -> None:
    before = tree(checkout)
    result = run("new-project", "fraud", "--template", "tabular-training", "--description", description, cwd=checkout)
    assert_plain_error(result, "mlops-kit new-project: --description:", needle, "at most 256 printable characters")
    assert tree(checkout) == before


def test_new_project_keeps_quotes_and_backslashes_of_the_description(checkout: Path) -> None:
    from mlops_kit.config import load_config

    typed = 'Scores "risk" per C:\\loans, 100% $HOME'
    result = run("new-project", "fraud", "--template", "tabular-training", "--description", typed, cwd=checkout)
    assert result.returncode == 0, result.stderr
    (project,) = load_config(checkout / "kit.yaml").projects
    assert project.description == typed


def test_fails_if_node_is_missing(checkout: Path) -> None:
    (checkout / "node_modules").symlink_to(ROOT / "node_modules")
    bin_dir = checkout / "bin"
    bin_dir.mkdir()
    result = run_with_path(str(bin_dir), "synth", cwd=checkout)
    assert_plain_error(result, "Node.js 20 or newer", "`node` is not on PATH")
    assert not (checkout / "cdk.out").exists()


def test_fails_if_the_cdk_cli_is_not_installed(checkout: Path) -> None:
    node = shutil.which("node")
    assert node, "the test suite needs Node.js"
    bin_dir = checkout / "bin"
    bin_dir.mkdir()
    (bin_dir / "node").symlink_to(node)  # node, but no node_modules/.bin/cdk, no npx, no global cdk
    result = run_with_path(str(bin_dir), "synth", cwd=checkout)
    assert_plain_error(result, "the CDK CLI is not installed", "run `npm ci`")
    assert "npx canceled" not in result.stderr
    assert not (checkout / "cdk.out").exists()


def test_fails_if_run_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "kit.yaml").write_text((ROOT / "kit.yaml").read_text())
    result = run("synth", cwd=tmp_path)
    assert_plain_error(result, "no cdk.json above it", "run from the kit's checkout")
    assert tree(tmp_path) == ["kit.yaml"]


def test_bare_command_prints_its_help(tmp_path: Path) -> None:
    result = subprocess.run([*KIT], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0 and "Usage: mlops-kit" in result.stdout and "report" in result.stdout, result
