"""cfn-lint's content cache: a cached run reports exactly what a cold run does, and only changed bytes are linted again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_kit import checks

CLEAN = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}}}}
BROKEN = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "soon", "NoSuchProperty": 1}}}}


def assembly(folder: Path, stacks: dict[str, dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for name, body in stacks.items():
        (folder / f"{name}.template.json").write_text(json.dumps(body))
        artifacts[name] = {"type": "aws:cloudformation:stack", "properties": {"templateFile": f"{name}.template.json"}}
    (folder / "manifest.json").write_text(json.dumps({"version": "43.0.0", "artifacts": artifacts}))
    return folder


def findings(summary: checks.AssemblySummary) -> dict[str, tuple[list[str], list[str]]]:
    return {stack.name: (stack.lint_errors, stack.lint_warnings) for stack in summary.stacks}


def test_cached_run_reports_what_a_cold_run_does_without_linting_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = assembly(tmp_path / "cdk.out", {"Clean": CLEAN, "Broken": BROKEN, "AlsoClean": {**CLEAN, "Outputs": {}}})
    cold = checks.summarize(out, use_cache=False)
    assert findings(cold)["Clean"] == ([], [])
    assert len(findings(cold)["Broken"][0]) >= 2  # the bad type and the unknown property
    assert not cold.ok
    cache = tmp_path / checks.LINT_CACHE
    assert len(list(cache.glob("*.json"))) == 3

    def no_lint(template: Path) -> tuple[list[str], list[str]]:
        raise AssertionError(f"{template} was linted again although its bytes did not change")

    monkeypatch.setattr(checks, "lint", no_lint)
    warm = checks.summarize(out)
    assert findings(warm) == findings(cold)
    assert warm.ok == cold.ok


def test_only_changed_templates_are_linted_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = assembly(tmp_path / "cdk.out", {"Clean": CLEAN, "Broken": BROKEN})
    checks.summarize(out)
    # A synth replaces cdk.out/ whole: the cache beside it still answers for unchanged bytes.
    fixed = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}}}
    out = assembly(tmp_path / "cdk.out", {"Clean": CLEAN, "Broken": fixed})
    linted: list[str] = []
    real_lint = checks.lint

    def counting(template: Path) -> tuple[list[str], list[str]]:
        linted.append(template.name)
        return real_lint(template)

    monkeypatch.setattr(checks, "lint", counting)
    summary = checks.summarize(out, max_workers=1)  # in this process, so the count sees every call
    assert linted == ["Broken.template.json"]
    assert summary.ok
    linted.clear()
    checks.summarize(out, use_cache=False, max_workers=1)  # --no-cache: everything again
    assert sorted(linted) == ["Broken.template.json", "Clean.template.json"]


def test_parallel_and_serial_lint_agree(tmp_path: Path) -> None:
    out = assembly(tmp_path / "cdk.out", {"Clean": CLEAN, "Broken": BROKEN})
    parallel = checks.summarize(out, use_cache=False, max_workers=2)
    serial = checks.summarize(out, use_cache=False, max_workers=1)
    assert findings(parallel) == findings(serial)
