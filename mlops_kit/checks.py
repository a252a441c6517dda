"""Read a synthesized cloud assembly: stacks, resource counts, cdk-nag reports and cfn-lint findings.

cfn-lint costs about a second per template, every time, so its findings are cached by content:
the key is the SHA-256 of the template bytes, the cfn-lint version and the regions linted, and
the cache folder (``.cdk.out.lint-cache/`` beside the cloud assembly) survives the swap of
``cdk.out/`` that every synth does. A template whose bytes did not change gets the findings it
got before; the others are linted in parallel processes, one per core. ``use_cache=False`` (the
CLI's ``--no-cache``) lints everything and refreshes the cache.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

LINT_REGIONS = ("us-east-1",)
LINT_CACHE = ".cdk.out.lint-cache"


@dataclass
class StackSummary:
    name: str
    template: Path
    resources: int
    nag_compliant: int = 0
    nag_unsuppressed: int = 0
    nag_suppressed: int = 0
    lint_errors: list[str] = field(default_factory=list)
    lint_warnings: list[str] = field(default_factory=list)


@dataclass
class AssemblySummary:
    stacks: list[StackSummary]

    @property
    def ok(self) -> bool:
        return all(s.nag_unsuppressed == 0 and not s.lint_errors for s in self.stacks)

    def render(self) -> str:
        header = f"{'stack':<44} {'resources':>9} {'nag open':>8} {'nag suppr.':>10} {'lint err':>8} {'lint warn':>9}"
        lines = [header, "-" * len(header)]
        for s in self.stacks:
            lines.append(
                f"{s.name:<44} {s.resources:>9} {s.nag_unsuppressed:>8} {s.nag_suppressed:>10} "
                f"{len(s.lint_errors):>8} {len(s.lint_warnings):>9}"
            )
        total = sum(s.resources for s in self.stacks)
        lines.append("-" * len(header))
        lines.append(f"{len(self.stacks)} stacks, {total} resources: " + ("all checks passed" if self.ok else "CHECKS FAILED"))
        for s in self.stacks:
            lines.extend(f"  {s.name}: {finding}" for finding in s.lint_errors)
        return "\n".join(lines)


def stack_templates(assembly: Path) -> dict[str, Path]:
    """Every stack template in the assembly, nested stages (CDK Pipelines) included, by display name."""
    found: dict[str, Path] = {}
    manifest_path = assembly / "manifest.json"
    if not manifest_path.exists():
        return found
    manifest = json.loads(manifest_path.read_text())
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        kind = artifact.get("type")
        if kind == "aws:cloudformation:stack":
            template = assembly / artifact["properties"]["templateFile"]
            found[artifact.get("displayName", artifact_id)] = template
        elif kind == "cdk:cloud-assembly":
            found.update(stack_templates(assembly / artifact["properties"]["directoryName"]))
    return found


def _nag_rows(assembly: Path) -> list[dict[str, str]]:
    """Every row of cdk-nag's CSV reports below ``assembly`` (stages write their own)."""
    rows: list[dict[str, str]] = []
    for report in sorted(assembly.rglob("*-NagReport.csv")):
        with report.open(newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def lint(template: Path) -> tuple[list[str], list[str]]:
    """cfn-lint errors and warnings for one template (informational findings are dropped)."""
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(template, config=ManualArgs(regions=list(LINT_REGIONS)))
    errors, warnings = [], []
    for match in matches:
        text = f"{match.rule.id} {match.message} ({'/'.join(str(p) for p in match.path or [])})"
        level = match.rule.severity.lower()
        if level == "error":
            errors.append(text)
        elif level == "warning":
            warnings.append(text)
    return errors, warnings


def _cache_key(template: Path) -> str:
    from importlib.metadata import version

    digest = hashlib.sha256(template.read_bytes())
    digest.update(f"\0cfn-lint {version('cfn-lint')}\0{','.join(LINT_REGIONS)}".encode())
    return digest.hexdigest()


def lint_all(
    templates: Iterable[Path], *, cache_dir: Path | None, use_cache: bool = True, max_workers: int | None = None
) -> dict[Path, tuple[list[str], list[str]]]:
    """cfn-lint findings per template: from the content cache where the bytes are known, else linted in parallel."""
    results: dict[Path, tuple[list[str], list[str]]] = {}
    keys = {template: _cache_key(template) for template in templates}
    todo: list[Path] = []
    for template, key in keys.items():
        cached = cache_dir / f"{key}.json" if cache_dir is not None else None
        if use_cache and cached is not None and cached.is_file():
            errors, warnings = json.loads(cached.read_text())
            results[template] = (errors, warnings)
        else:
            todo.append(template)
    workers = min(len(todo), max_workers or os.cpu_count() or 1)
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        import cfnlint.api  # noqa: F401  # imported once here, inherited by the forked workers

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            fresh = dict(zip(todo, pool.map(lint, todo), strict=True))
    else:
        fresh = {template: lint(template) for template in todo}
    for template, found in fresh.items():
        results[template] = found
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            (cache_dir / f"{keys[template]}.json").write_text(json.dumps(list(found)))
    return results


def summarize(
    assembly: Path, *, run_lint: bool = True, use_cache: bool = True, max_workers: int | None = None
) -> AssemblySummary:
    rows = _nag_rows(assembly)
    stacks: list[StackSummary] = []
    templates = stack_templates(assembly)
    findings = (
        lint_all(templates.values(), cache_dir=assembly.resolve().parent / LINT_CACHE, use_cache=use_cache, max_workers=max_workers)
        if run_lint
        else {}
    )
    for name, template in templates.items():
        body = json.loads(template.read_text())
        summary = StackSummary(name=name, template=template, resources=len(body.get("Resources", {})))
        counts = Counter(row["Compliance"] for row in rows if row["Resource ID"].startswith(f"{name}/"))
        summary.nag_compliant = counts["Compliant"]
        summary.nag_unsuppressed = counts["Non-Compliant"]
        summary.nag_suppressed = counts["Suppressed"]
        if run_lint:
            summary.lint_errors, summary.lint_warnings = findings[template]
        stacks.append(summary)
    return AssemblySummary(stacks)
