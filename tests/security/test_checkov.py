"""checkov (Prisma Cloud's IaC scanner) over the synthesized templates, against a reviewed baseline.

checkov runs from its own virtual environment (``.venv-checkov``, built by ``make setup`` from
``requirements-checkov.txt``): it pins boto3, botocore and packaging older than the kit's.
It scans the default platform and the three-account example in one run. Every failed check
is either fixed or listed in ``checkov_baseline.json`` with its reason; the test fails on a
failure that is not listed and on a listed entry that no longer fails (a stale baseline).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from tests.conftest import ROOT

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
BASELINE = Path(__file__).with_name("checkov_baseline.json")


def copy_templates(assembly: Path, into: Path) -> None:
    """Only the stack templates (no assets, no manifests), keeping the nested assemblies' folders."""
    for template in assembly.rglob("*.template.json"):
        target = into / template.relative_to(assembly)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)


@pytest.fixture(scope="module")
def scan(default_app: cdk.App, three_accounts: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV.relative_to(ROOT)} not found: run `make setup`, which builds .venv-checkov from requirements-checkov.txt")
    folder = tmp_path_factory.mktemp("checkov")
    copy_templates(Path(default_app.outdir), folder / "default")
    copy_templates(three_accounts, folder / "three-accounts")
    # --skip-download: no Prisma Cloud API (offline); --soft-fail: the exit code is ours to decide.
    result = subprocess.run(
        [str(CHECKOV), "-d", str(folder), "--framework", "cloudformation", "--output", "json", "--compact",
         "--quiet", "--skip-download", "--soft-fail"],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["check_type"] == "cloudformation"
    return report


def failures(report: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(check id, resource) -> the templates it fails in."""
    found: dict[tuple[str, str], set[str]] = {}
    for check in report["results"]["failed_checks"]:
        found.setdefault((check["check_id"], check["resource"]), set()).add(check["file_path"].lstrip("/"))
    return found


def test_checkov_scanned_both_platforms(scan: dict[str, Any]) -> None:
    summary = scan["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] > 500 and summary["passed"] > 1000, summary


def test_every_failed_check_is_in_the_baseline_with_a_reason(scan: dict[str, Any]) -> None:
    baseline = {(entry["check_id"], entry["resource"]): entry["reason"] for entry in json.loads(BASELINE.read_text())}
    new = {f"{check_id} {resource} in {sorted(templates)}" for (check_id, resource), templates in failures(scan).items()
           if (check_id, resource) not in baseline}
    assert not new, f"fix these or add them to {BASELINE.name} with a reason: {sorted(new)}"
    for key, reason in baseline.items():
        assert len(reason) > 40, key


def test_the_baseline_holds_no_stale_entry(scan: dict[str, Any]) -> None:
    failed = failures(scan)
    stale = [f"{entry['check_id']} {entry['resource']}" for entry in json.loads(BASELINE.read_text())
             if (entry["check_id"], entry["resource"]) not in failed]
    assert not stale, f"these pass now: remove them from {BASELINE.name}: {stale}"
